package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// envPrefix starts every environment variable that sets a key: LOYALTYHOOKS_KAFKA_BROKERS.
const envPrefix = "LOYALTYHOOKS"

// Load reads the configuration: built-in defaults, then the YAML file (skipped when file is ""),
// then environment variables LOYALTYHOOKS_<KEY> (upper case, dots as underscores), then the
// flags of AddFlags that were set on flags (which may be nil), each overriding the one before.
// Lists may be given as comma-separated strings and durations as Go durations ("15s").
// A secret whose <key>File is set is read from that file (see secret.go). An empty
// processor.instanceId becomes the host name. The result is validated; on any error Load returns
// the zero Config. Secrets written in plain text in the file are accepted and listed in
// Config.Warnings.
func Load(file string, flags *pflag.FlagSet) (Config, error) {
	v := viper.New()
	v.AllowEmptyEnv(true) // an empty variable clears a key, e.g. schemaRegistry.url
	eachLeaf(reflect.ValueOf(Defaults()), "", func(key string, val reflect.Value) {
		v.SetDefault(key, val.Interface())
	})
	var warnings []Warning
	if file != "" {
		var err error
		if warnings, err = readFile(v, file); err != nil {
			return Config{}, err
		}
	}
	if err := bindEnv(v); err != nil {
		return Config{}, err
	}
	if err := applyFlags(v, flags); err != nil {
		return Config{}, err
	}
	var c Config
	if err := v.Unmarshal(&c, func(dc *mapstructure.DecoderConfig) { dc.DecodeHook = decodeHook() }); err != nil {
		return Config{}, keyErrors(err)
	}
	if err := errors.Join(readSecretFiles(reflect.ValueOf(&c).Elem(), "")...); err != nil {
		return Config{}, err
	}
	c.warnings = warnings
	if c.Processor.InstanceID == "" {
		// Left empty when the host has no name; Validate then reports the key.
		c.Processor.InstanceID, _ = os.Hostname()
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// readFile loads the YAML file into v after checking that it holds only known keys, and warns
// of the secrets written in it.
func readFile(v *viper.Viper, file string) ([]Warning, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("config file %s: %w", file, err)
	}
	if err := errors.Join(checkFileKeys(raw, configType, "")...); err != nil {
		return nil, fmt.Errorf("config file %s: %w", file, err)
	}
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("config file %s: %w", file, err)
	}
	return plainSecrets(raw, configType, "", file), nil
}

// bindEnv binds every LOYALTYHOOKS_ variable that names a key. Binding the variables found,
// rather than viper's AutomaticEnv, also reaches keys that have no default, such as a column
// override (LOYALTYHOOKS_SOURCE_TABLES_MEMBER_COLUMNS_EMAIL). Variables that name no key are
// left to others (a command may read LOYALTYHOOKS_CONFIG itself).
func bindEnv(v *viper.Viper) error {
	defaults := reflect.ValueOf(Defaults())
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(name, envPrefix+"_")
		if !ok {
			continue
		}
		key, ok := envKey(rest, configType, defaults)
		if !ok {
			continue
		}
		if err := v.BindEnv(key, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// decodeHook turns the strings of the environment and of flags into lists and durations.
func decodeHook() mapstructure.DecodeHookFunc {
	return mapstructure.ComposeDecodeHookFunc(durationHook, listHook)
}

var durationHook mapstructure.DecodeHookFuncType = func(from, to reflect.Type, data any) (any, error) {
	if to != durationType || from == durationType {
		return data, nil
	}
	switch from.Kind() {
	case reflect.String:
		s := reflect.ValueOf(data).String()
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration like 15s", s)
		}
		return d, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		// A bare number would silently mean nanoseconds.
		return nil, fmt.Errorf("%v has no unit; write a duration like 15s", data)
	}
	return data, nil
}

// listHook splits a comma-separated string into a list; "" is the empty list.
var listHook mapstructure.DecodeHookFuncType = func(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to.Kind() != reflect.Slice {
		return data, nil
	}
	s := reflect.ValueOf(data).String()
	if strings.TrimSpace(s) == "" {
		return []string{}, nil
	}
	items := strings.Split(s, ",")
	for i := range items {
		items[i] = strings.TrimSpace(items[i])
	}
	return items, nil
}

// keyErrors rewrites decoding errors as "<key>: <problem>", one per bad value.
func keyErrors(err error) error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		if de, ok := e.(*mapstructure.DecodeError); ok {
			out = append(out, fmt.Errorf("%s: %w", dottedKey(de.Name()), decodeProblem(de.Unwrap())))
			return
		}
		if joined, ok := e.(interface{ Unwrap() []error }); ok {
			for _, inner := range joined.Unwrap() {
				walk(inner)
			}
			return
		}
		if inner := errors.Unwrap(e); inner != nil {
			walk(inner)
			return
		}
		out = append(out, e)
	}
	walk(err)
	return errors.Join(out...)
}

// decodeProblem says what is wrong with a value. Values of the wrong kind are not shown, as
// they could belong to a secret; parse errors only arise for numbers, booleans and the like.
func decodeProblem(err error) error {
	var pe *mapstructure.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%q is not a valid %s", fmt.Sprint(pe.Value), pe.Expected.Type())
	}
	var ue *mapstructure.UnconvertibleTypeError
	if errors.As(err, &ue) {
		return fmt.Errorf("a %s cannot be a %s", kindName(ue.Value), ue.Expected.Type())
	}
	return err
}

func kindName(v any) string {
	switch reflect.ValueOf(v).Kind() {
	case reflect.Slice, reflect.Array:
		return "list"
	case reflect.Map:
		return "mapping"
	}
	return fmt.Sprintf("value of type %T", v)
}

var mapIndex = regexp.MustCompile(`\[([^\]]*)\]`)

// dottedKey turns mapstructure's source.tables[member].name into source.tables.member.name;
// list indexes keep their brackets.
func dottedKey(name string) string {
	return mapIndex.ReplaceAllStringFunc(name, func(m string) string {
		inner := m[1 : len(m)-1]
		if strings.Trim(inner, "0123456789") == "" {
			return m
		}
		return "." + inner
	})
}
