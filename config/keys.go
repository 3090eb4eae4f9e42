package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
)

// The key tree is read from Config's type, so a field added with a `mapstructure` tag is known
// to the file check, the environment, --set and Print without further code.

var (
	configType   = reflect.TypeFor[Config]()
	durationType = reflect.TypeFor[time.Duration]()
)

// tagName is the key segment of a struct field, or "" when the field is not a key.
func tagName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// isBranch reports whether keys sit below a type, rather than one value.
func isBranch(t reflect.Type) bool {
	return t.Kind() == reflect.Struct || t.Kind() == reflect.Map
}

// child finds the key segment name below the branch type t, ignoring case as viper does, and
// returns its canonical spelling and type. Below a map any name is a key.
func child(t reflect.Type, name string) (string, reflect.Type, bool) {
	switch t.Kind() {
	case reflect.Map:
		return strings.ToLower(name), t.Elem(), true
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if tag := tagName(f); tag != "" && strings.EqualFold(tag, name) {
				return tag, f.Type, true
			}
		}
	}
	return "", nil, false
}

// childNames lists the key segments a struct type allows.
func childNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if tag := tagName(t.Field(i)); tag != "" {
			names = append(names, tag)
		}
	}
	return names
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func unknownKey(key string, parent reflect.Type) error {
	if parent.Kind() != reflect.Struct {
		return fmt.Errorf("%s: unknown key", key)
	}
	return fmt.Errorf("%s: unknown key (known here: %s)", key, strings.Join(childNames(parent), ", "))
}

// resolveKey turns a dotted key in any letter case into its canonical spelling and the type of
// its value; the key must name one value, not a branch.
func resolveKey(key string) (string, reflect.Type, error) {
	t, canonical := configType, ""
	for seg := range strings.SplitSeq(key, ".") {
		name, ct, ok := child(t, seg)
		if !ok {
			return "", nil, unknownKey(joinKey(canonical, seg), t)
		}
		canonical, t = joinKey(canonical, name), ct
	}
	if isBranch(t) {
		return "", nil, fmt.Errorf("%s: holds several keys; set them one by one", canonical)
	}
	return canonical, t, nil
}

// checkFileKeys returns an error for every key of a parsed YAML mapping that Config does not
// have, so that a typo like kafka.broker fails instead of being ignored.
func checkFileKeys(m map[string]any, t reflect.Type, prefix string) []error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(m)) {
		name, ct, ok := child(t, k)
		if !ok {
			errs = append(errs, unknownKey(joinKey(prefix, k), t))
			continue
		}
		if sub, isMap := m[k].(map[string]any); isMap && isBranch(ct) {
			errs = append(errs, checkFileKeys(sub, ct, joinKey(prefix, name))...)
		}
	}
	return errs
}

// envKey finds the key an environment variable name (without the prefix) sets. Underscores
// both separate segments and occur inside map keys (member_code), so each reading is tried;
// below a map of branches only the map keys present in def (the defaults) are candidates.
func envKey(rest string, t reflect.Type, def reflect.Value) (string, bool) {
	if t.Kind() == reflect.Map && !isBranch(t.Elem()) {
		return strings.ToLower(rest), rest != ""
	}
	for _, seg := range envCandidates(t, def) {
		_, ct, _ := child(t, seg)
		up := strings.ToUpper(seg)
		if rest == up && !isBranch(ct) {
			return seg, true
		}
		after, ok := strings.CutPrefix(rest, up+"_")
		if !ok || !isBranch(ct) {
			continue
		}
		if sub, ok := envKey(after, ct, childValue(def, seg)); ok {
			return seg + "." + sub, true
		}
	}
	return "", false
}

func envCandidates(t reflect.Type, def reflect.Value) []string {
	if t.Kind() == reflect.Struct {
		return childNames(t)
	}
	if !def.IsValid() || def.Kind() != reflect.Map {
		return nil
	}
	var keys []string
	for _, k := range def.MapKeys() {
		keys = append(keys, k.String())
	}
	return keys
}

// childValue is the value of key segment seg below v, or the invalid Value when there is none.
func childValue(v reflect.Value, seg string) reflect.Value {
	switch {
	case !v.IsValid():
		return v
	case v.Kind() == reflect.Map:
		return v.MapIndex(reflect.ValueOf(seg).Convert(v.Type().Key()))
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			if tagName(v.Type().Field(i)) == seg {
				return v.Field(i)
			}
		}
	}
	return reflect.Value{}
}

// eachLeaf calls fn with the canonical key and the value of every leaf below v; map entries
// come in key order.
func eachLeaf(v reflect.Value, prefix string, fn func(key string, v reflect.Value)) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if tag := tagName(v.Type().Field(i)); tag != "" {
				eachLeaf(v.Field(i), joinKey(prefix, tag), fn)
			}
		}
	case reflect.Map:
		for _, k := range sortedMapKeys(v) {
			eachLeaf(v.MapIndex(k), joinKey(prefix, k.String()), fn)
		}
	default:
		fn(prefix, v)
	}
}

func sortedMapKeys(v reflect.Value) []reflect.Value {
	keys := v.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
	return keys
}

// envName is the environment variable that sets key.
func envName(key string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}
