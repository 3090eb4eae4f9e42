package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Secrets are fields tagged `secret:"true"` (hidden whole when printed) or `secret:"url"` (a URL
// whose password is hidden). Every `secret:"true"` field has a twin key <key>File naming a file
// that holds the secret instead, so that Kubernetes Secrets can be mounted rather than written
// into the config file: kafka.sasl.password and kafka.sasl.passwordFile. Load fills the secret
// from its file; the clients of internal/connect read the file again for every new connection, so
// a rotated secret takes effect without a restart.

// fileSuffix turns a secret's key into the key of its file: password → passwordFile.
const fileSuffix = "File"

// Warning is something Load accepted but advises against.
type Warning struct {
	Key  string // the config key it concerns
	Text string // what to do about it; never a secret's value
}

// Warnings lists what Load accepted but advises against: secrets written in plain text in the
// config file. Commands log them at startup.
func (c Config) Warnings() []Warning { return slices.Clone(c.warnings) }

// ReadSecretFile reads the secret held in file, the value of key (a <key>File twin). A file
// often ends with a newline that is no part of the secret (editors, `kubectl create secret
// --from-file`); it is dropped. Errors name the key and the file, never the content.
func ReadSecretFile(key, file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("%s: %q is not a readable file: %w", key, file, err)
	}
	secret := strings.TrimRight(string(data), "\r\n")
	if strings.TrimSpace(secret) == "" {
		return "", fmt.Errorf("%s: %q is empty", key, file)
	}
	return secret, nil
}

// RedactURL hides the password of a URL, for logs and messages: redis://user:[redacted]@host.
func RedactURL(s string) string { return redactURL(s) }

// readSecretFiles fills every secret field of v (addressable) whose <key>File twin is set from
// that file. A list of secrets takes one per non-empty line. Setting a secret both ways is an
// error, as the two could disagree. Structs and lists of structs are walked; maps hold no
// secrets.
func readSecretFiles(v reflect.Value, prefix string) []error {
	var errs []error
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			tag := tagName(f)
			if tag == "" {
				continue
			}
			key := joinKey(prefix, tag)
			if f.Tag.Get("secret") == "true" {
				errs = append(errs, fillSecret(v, i, key)...)
				continue
			}
			errs = append(errs, readSecretFiles(v.Field(i), key)...)
		}
	case reflect.Slice:
		for i := range v.Len() {
			errs = append(errs, readSecretFiles(v.Index(i), prefix+"["+strconv.Itoa(i)+"]")...)
		}
	}
	return errs
}

// fillSecret reads field i of struct v, the secret key, from its file twin when that is set.
func fillSecret(v reflect.Value, i int, key string) []error {
	twin, ok := fileTwin(v.Type(), i)
	if !ok {
		return nil
	}
	file := v.Field(twin).String()
	if file == "" {
		return nil
	}
	secret := v.Field(i)
	if !secret.IsZero() {
		return []error{fmt.Errorf("%s: set together with %s%s; keep one of them", key, key, fileSuffix)}
	}
	text, err := ReadSecretFile(key+fileSuffix, file)
	if err != nil {
		return []error{err}
	}
	switch secret.Kind() {
	case reflect.String:
		secret.SetString(text)
	case reflect.Slice:
		var lines []string
		for line := range strings.Lines(text) {
			if line = strings.TrimSpace(line); line != "" {
				lines = append(lines, line)
			}
		}
		secret.Set(reflect.ValueOf(lines))
	}
	return nil
}

// fileTwin finds the <key>File field beside secret field i of struct type t.
func fileTwin(t reflect.Type, i int) (int, bool) {
	want := tagName(t.Field(i)) + fileSuffix
	for j := range t.NumField() {
		if f := t.Field(j); tagName(f) == want && f.Type.Kind() == reflect.String {
			return j, true
		}
	}
	return 0, false
}

// plainSecrets warns of every secret set in a parsed config file m (below type t): a
// `secret:"true"` key with a value, or a `secret:"url"` key whose URL holds a password.
func plainSecrets(m map[string]any, t reflect.Type, prefix, file string) []Warning {
	var out []Warning
	for _, k := range slices.Sorted(maps.Keys(m)) {
		name, ct, ok := child(t, k)
		if !ok {
			continue
		}
		key := joinKey(prefix, name)
		if kind := secretKind(t, name); kind != "" {
			if holdsSecret(kind, m[k]) {
				out = append(out, plainSecretWarning(t, name, key, kind, file))
			}
			continue
		}
		out = append(out, plainSecretsIn(m[k], ct, key, file)...)
	}
	return out
}

// plainSecretsIn descends into a mapping, or into each element of a list of structs.
func plainSecretsIn(val any, t reflect.Type, key, file string) []Warning {
	switch x := val.(type) {
	case map[string]any:
		if t.Kind() == reflect.Struct {
			return plainSecrets(x, t, key, file)
		}
	case []any:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct {
			var out []Warning
			for i, item := range x {
				out = append(out, plainSecretsIn(item, t.Elem(), key+"["+strconv.Itoa(i)+"]", file)...)
			}
			return out
		}
	}
	return nil
}

// secretKind is the secret tag of the field named name (canonical) of struct type t.
func secretKind(t reflect.Type, name string) string {
	if t.Kind() != reflect.Struct {
		return ""
	}
	for i := range t.NumField() {
		if f := t.Field(i); tagName(f) == name {
			return f.Tag.Get("secret")
		}
	}
	return ""
}

func holdsSecret(kind string, val any) bool {
	switch x := val.(type) {
	case nil:
		return false
	case string:
		if kind == "url" {
			return redactURL(x) != x
		}
		return x != ""
	case []any:
		return len(x) > 0
	}
	return kind == "true"
}

func plainSecretWarning(t reflect.Type, name, key, kind, file string) Warning {
	var ways []string
	if !strings.Contains(key, "[") {
		ways = append(ways, "the environment variable "+envName(key))
	}
	if kind == "true" {
		ways = append(ways, key+fileSuffix+" (a file, such as a mounted Kubernetes Secret)")
	} else if _, _, ok := child(t, "password"); ok {
		ways = append(ways, "the password or passwordFile key beside it")
	}
	what := "a secret"
	if kind == "url" {
		what = "a URL with a password"
	}
	text := fmt.Sprintf("%s holds %s written in plain text in %s", key, what, file)
	if len(ways) > 0 {
		text += "; prefer " + strings.Join(ways, " or ")
	}
	return Warning{Key: key, Text: text}
}
