package config

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// FlagKeys maps each command-line flag of AddFlags to the key it sets.
var FlagKeys = map[string]string{
	"brokers":        "kafka.brokers",
	"redis-url":      "redis.url",
	"format":         "source.format",
	"topic-prefix":   "source.topicPrefix",
	"registry-url":   "schemaRegistry.url",
	"webhooks-topic": "topics.webhooks",
	"group":          "processor.group",
	"instance-id":    "processor.instanceId",
	"metrics-addr":   "metrics.addr",
	"log-level":      "log.level",
	"log-format":     "log.format",
}

// setFlag is the generic flag that sets any key: --set kafka.sessionTimeout=30s.
const setFlag = "set"

// AddFlags defines the flags of FlagKeys and --set on fs. Only flags given on the command line
// override; their values are parsed like environment variables (lists comma-separated).
func AddFlags(fs *pflag.FlagSet) {
	for _, name := range slices.Sorted(maps.Keys(FlagKeys)) {
		fs.String(name, "", flagHelp(FlagKeys[name]))
	}
	fs.StringArray(setFlag, nil,
		"set any config key, as key=value (repeatable; lists comma-separated), e.g. --set kafka.sessionTimeout=30s")
}

func flagHelp(key string) string {
	help := fmt.Sprintf("sets %s (env %s)", key, envName(key))
	if _, t, err := resolveKey(key); err == nil && t.Kind() == reflect.Slice {
		help += "; a comma-separated list"
	}
	return help
}

// applyFlags sets, above every other source, the values of --set and then of the named flags
// that were given, so that --brokers wins over --set kafka.brokers=….
func applyFlags(v *viper.Viper, fs *pflag.FlagSet) error {
	if fs == nil {
		return nil
	}
	var errs []error
	if f := fs.Lookup(setFlag); f != nil && f.Changed {
		pairs, err := fs.GetStringArray(setFlag)
		if err != nil {
			return fmt.Errorf("--%s: %w", setFlag, err)
		}
		for i, p := range pairs {
			errs = append(errs, applySet(v, i+1, p))
		}
	}
	for name, key := range FlagKeys {
		if f := fs.Lookup(name); f != nil && f.Changed {
			v.Set(key, f.Value.String())
		}
	}
	return errors.Join(errs...)
}

// applySet applies the n-th --set key=value. Its text stays out of errors, as it may hold a
// secret.
func applySet(v *viper.Viper, n int, pair string) error {
	k, value, ok := strings.Cut(pair, "=")
	if !ok {
		return fmt.Errorf("--%s #%d: no '=' in it; want key=value", setFlag, n)
	}
	key, _, err := resolveKey(strings.TrimSpace(k))
	if err != nil {
		return fmt.Errorf("--%s: %w", setFlag, err)
	}
	v.Set(key, value)
	return nil
}
