package config

import (
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// redacted replaces a secret in everything the package prints.
const redacted = "[redacted]"

// Print writes c as YAML with the keys of the config file. Fields tagged `secret:"true"` print
// as [redacted] when set; fields tagged `secret:"url"` keep the URL but not its password.
func Print(w io.Writer, c Config) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(valueNode(reflect.ValueOf(c))); err != nil {
		return fmt.Errorf("print config: %w", err)
	}
	return enc.Close()
}

// valueNode renders any value of the config tree; struct fields use their key and secret tags.
func valueNode(v reflect.Value) *yaml.Node {
	if v.Type() == durationType {
		return scalarNode(v.Interface().(time.Duration).String())
	}
	switch v.Kind() {
	case reflect.Struct:
		return structNode(v)
	case reflect.Map:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range sortedMapKeys(v) {
			n.Content = append(n.Content, keyNode(k.String()), valueNode(v.MapIndex(k)))
		}
		return n
	case reflect.Slice, reflect.Array:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for i := range v.Len() {
			n.Content = append(n.Content, valueNode(v.Index(i)))
		}
		return n
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return scalarNode(nil)
		}
		return valueNode(v.Elem())
	}
	return scalarNode(v.Interface())
}

func structNode(v reflect.Value) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		tag := tagName(f)
		if tag == "" {
			continue
		}
		val := valueNode(v.Field(i))
		if secret := f.Tag.Get("secret"); secret != "" && !v.Field(i).IsZero() {
			val = scalarNode(redact(secret, v.Field(i)))
		}
		n.Content = append(n.Content, keyNode(tag), val)
	}
	return n
}

// redact hides a set secret: a URL loses only its password, anything else is hidden whole.
func redact(kind string, v reflect.Value) string {
	if kind == "url" && v.Kind() == reflect.String {
		return redactURL(v.String())
	}
	return redacted
}

// redactURL replaces the password in a URL's userinfo. A URL that does not parse keeps only
// what follows its last '@', as the password may sit anywhere before it.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if i := strings.LastIndex(s, "@"); i >= 0 {
			return redacted + s[i:]
		}
		return s
	}
	if _, has := u.User.Password(); !has {
		return s
	}
	user := url.User(u.User.Username()).String()
	u.User = nil
	return strings.Replace(u.String(), "//", "//"+user+":"+redacted+"@", 1)
}

func keyNode(key string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: key}
}

// scalarNode lets yaml choose the tag and quoting, so "true" or "" stay strings.
func scalarNode(x any) *yaml.Node {
	n := &yaml.Node{}
	if err := n.Encode(x); err != nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Value: fmt.Sprint(x)}
	}
	return n
}
