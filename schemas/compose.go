package schemas

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

const envelopeFile = "webhook_event.avsc"

// definition is a named type (record, enum or fixed) as written in one of the .avsc files.
type definition struct {
	node map[string]any
	file string
	ns   string // the namespace enclosing the definition in its file
}

// composer inlines the named types of the trigger and shared-type files into the envelope.
// Avro lets a name be used only after its definition, and only once defined, so each named
// type is defined at its first use in document order and referred to by full name after that.
type composer struct {
	library map[string]definition // every named type in any file, by full name
	defined map[string]bool       // named types already defined in the output
}

// compose returns the full WebhookEvent schema built from webhook_event.avsc,
// triggers/*.avsc and types/*.avsc in fsys, as compact JSON.
func compose(fsys fs.FS) ([]byte, error) {
	c := composer{library: map[string]definition{}, defined: map[string]bool{}}
	root, err := c.load(fsys, envelopeFile)
	if err != nil {
		return nil, err
	}
	for _, dir := range []string{"triggers", "types"} {
		files, err := fs.Glob(fsys, dir+"/*.avsc")
		if err != nil {
			return nil, err
		}
		for _, file := range files {
			if _, err := c.load(fsys, file); err != nil {
				return nil, err
			}
		}
		if dir == "triggers" {
			if err := c.checkTriggerFiles(files); err != nil {
				return nil, err
			}
		}
	}
	out, err := c.walk(root, "", envelopeFile)
	if err != nil {
		return nil, err
	}
	return appendSchemaJSON(nil, out), nil
}

// load reads one .avsc file and adds the named types it defines to the library.
func (c *composer) load(fsys fs.FS, file string) (any, error) {
	b, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, err
	}
	node, err := decodeSchema(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := c.collect(node, "", file); err != nil {
		return nil, err
	}
	return node, nil
}

// collect adds every named type defined in node, however deeply nested, to the library.
func (c *composer) collect(node any, ns, file string) error {
	switch n := node.(type) {
	case []any:
		for _, branch := range n {
			if err := c.collect(branch, ns, file); err != nil {
				return err
			}
		}
	case map[string]any:
		switch n["type"] {
		case "record", "error", "enum", "fixed":
			full, err := definedName(n, ns, file)
			if err != nil {
				return err
			}
			if prev, ok := c.library[full]; ok {
				return fmt.Errorf("%s: type %q is already defined in %s", file, full, prev.file)
			}
			c.library[full] = definition{node: n, file: file, ns: ns}
			fields, err := recordFields(n, file)
			if err != nil {
				return err
			}
			for _, f := range fields {
				if err := c.collect(f["type"], namespaceOf(full), file); err != nil {
					return err
				}
			}
		case "array":
			return c.collect(n["items"], ns, file)
		case "map":
			return c.collect(n["values"], ns, file)
		default:
			return c.collect(n["type"], ns, file)
		}
	}
	return nil
}

// checkTriggerFiles makes sure triggers/ holds exactly one record per trigger, named after it.
func (c *composer) checkTriggerFiles(files []string) error {
	for _, file := range files {
		trigger := strings.TrimSuffix(path.Base(file), ".avsc")
		if !slices.Contains(Triggers, trigger) {
			return fmt.Errorf("%s: %s is not one of the triggers", file, trigger)
		}
		def, ok := c.library[dataNamespace+"."+trigger]
		if !ok || def.file != file || def.node["type"] != "record" {
			return fmt.Errorf("%s: want the record %s.%s", file, dataNamespace, trigger)
		}
	}
	for _, trigger := range Triggers {
		if !slices.Contains(files, "triggers/"+trigger+".avsc") {
			return fmt.Errorf("triggers/%s.avsc: missing", trigger)
		}
	}
	return nil
}

// walk returns node with every reference to a named type not yet defined replaced by the
// type's definition, and every definition of a type already defined replaced by its name.
// It edits node in place.
func (c *composer) walk(node any, ns, file string) (any, error) {
	switch n := node.(type) {
	case string:
		if primitive(n) {
			return n, nil
		}
		full := fullName(n, ns)
		if c.defined[full] {
			return full, nil
		}
		def, ok := c.library[full]
		if !ok {
			return nil, fmt.Errorf("%s: unknown type %q", file, full)
		}
		return c.walk(def.node, def.ns, def.file)
	case []any:
		for i := range n {
			var err error
			if n[i], err = c.walk(n[i], ns, file); err != nil {
				return nil, err
			}
		}
		return n, nil
	case map[string]any:
		return c.walkObject(n, ns, file)
	}
	return nil, fmt.Errorf("%s: not a schema: %v", file, node)
}

func (c *composer) walkObject(n map[string]any, ns, file string) (any, error) {
	var err error
	switch t := n["type"]; t {
	case "record", "error", "enum", "fixed":
		full, err := definedName(n, ns, file)
		if err != nil {
			return nil, err
		}
		if c.defined[full] {
			return full, nil
		}
		c.defined[full] = true
		// Spell the namespace out: the definition may land inside another namespace.
		n["name"], n["namespace"] = full[strings.LastIndexByte(full, '.')+1:], namespaceOf(full)
		fields, err := recordFields(n, file)
		if err != nil {
			return nil, err
		}
		for _, f := range fields {
			if f["type"], err = c.walk(f["type"], namespaceOf(full), file); err != nil {
				return nil, err
			}
		}
	case "array":
		n["items"], err = c.walk(n["items"], ns, file)
	case "map":
		n["values"], err = c.walk(n["values"], ns, file)
	default:
		n["type"], err = c.walk(t, ns, file)
	}
	if err != nil {
		return nil, err
	}
	return n, nil
}

// recordFields returns the fields of a record definition, or nil for an enum or fixed.
func recordFields(n map[string]any, file string) ([]map[string]any, error) {
	if n["type"] != "record" && n["type"] != "error" {
		return nil, nil
	}
	raw, ok := n["fields"].([]any)
	if !ok {
		return nil, fmt.Errorf("%s: record %v has no fields array", file, n["name"])
	}
	fields := make([]map[string]any, len(raw))
	for i, f := range raw {
		if fields[i], ok = f.(map[string]any); !ok {
			return nil, fmt.Errorf("%s: record %v: field %d is not an object", file, n["name"], i)
		}
	}
	return fields, nil
}

// definedName returns the full name of a record, enum or fixed definition.
func definedName(n map[string]any, ns, file string) (string, error) {
	name, ok := n["name"].(string)
	if !ok || name == "" {
		return "", fmt.Errorf("%s: a %v has no name", file, n["type"])
	}
	if space, ok := n["namespace"].(string); ok && !strings.Contains(name, ".") {
		ns = space
	}
	return fullName(name, ns), nil
}

// fullName resolves a name against the enclosing namespace, as the Avro specification says.
func fullName(name, ns string) string {
	if ns == "" || strings.Contains(name, ".") {
		return name
	}
	return ns + "." + name
}

func namespaceOf(full string) string {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[:i]
	}
	return ""
}

func primitive(name string) bool {
	switch name {
	case "null", "boolean", "int", "long", "float", "double", "bytes", "string":
		return true
	}
	return false
}

// schemaKeyOrder puts the keys of a schema object in the order people write them, so the
// composed schema reads like the files it came from; other keys follow alphabetically.
var schemaKeyOrder = []string{
	"name", "namespace", "type", "logicalType", "precision", "scale", "size", "symbols",
	"items", "values", "default", "doc", "aliases", "fields",
}

// appendSchemaJSON writes a schema decoded with json.Decoder.UseNumber as compact JSON.
func appendSchemaJSON(dst []byte, node any) []byte {
	switch n := node.(type) {
	case map[string]any:
		keys := make([]string, 0, len(n))
		for k := range n {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int {
			ia, ib := slices.Index(schemaKeyOrder, a), slices.Index(schemaKeyOrder, b)
			switch {
			case ia >= 0 && ib >= 0:
				return ia - ib
			case ia >= 0:
				return -1
			case ib >= 0:
				return 1
			}
			return strings.Compare(a, b)
		})
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = appendSchemaJSON(dst, n[k])
		}
		return append(dst, '}')
	case []any:
		dst = append(dst, '[')
		for i, x := range n {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendSchemaJSON(dst, x)
		}
		return append(dst, ']')
	case string:
		return appendJSONString(dst, n)
	case json.Number:
		return append(dst, n...)
	case bool:
		if n {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	}
	return append(dst, "null"...)
}
