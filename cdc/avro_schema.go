package cdc

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// avroKind is an Avro schema type.
type avroKind uint8

const (
	avroNull avroKind = iota
	avroBoolean
	avroInt
	avroLong
	avroFloat
	avroDouble
	avroBytes
	avroString
	avroRecord
	avroEnum
	avroArray
	avroMap
	avroUnion
	avroFixed
)

var avroPrimitives = map[string]avroKind{
	"null": avroNull, "boolean": avroBoolean, "int": avroInt, "long": avroLong, "float": avroFloat,
	"double": avroDouble, "bytes": avroBytes, "string": avroString,
}

// avroType is a parsed Avro writer schema, with the properties Debezium's Avro converter adds
// (connect.name for semantic types, logicalType and scale for decimals).
type avroType struct {
	kind        avroKind
	name        string // full name of records, enums and fixed
	fields      []avroField
	branches    []*avroType // union
	items       *avroType   // array items, map values
	symbols     []string    // enum
	size        int         // fixed
	connectName string
	logical     string
	scale       int
}

type avroField struct {
	name string
	typ  *avroType
}

// semantic is the type's Connect semantic name, or its Avro name for records.
func (t *avroType) semantic() string {
	if t.connectName != "" {
		return t.connectName
	}
	return t.name
}

// parseAvroSchema parses a writer schema in Avro's JSON form.
func parseAvroSchema(text string) (*avroType, error) {
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return nil, err
	}
	p := avroParser{named: map[string]*avroType{}}
	return p.parse(v, "")
}

type avroParser struct {
	named map[string]*avroType
}

func (p *avroParser) parse(v any, ns string) (*avroType, error) {
	switch x := v.(type) {
	case string:
		if k, ok := avroPrimitives[x]; ok {
			return &avroType{kind: k}, nil
		}
		if t := p.lookup(x, ns); t != nil {
			return t, nil
		}
		return nil, fmt.Errorf("unknown Avro type %q", x)
	case []any:
		u := &avroType{kind: avroUnion}
		for _, b := range x {
			t, err := p.parse(b, ns)
			if err != nil {
				return nil, err
			}
			u.branches = append(u.branches, t)
		}
		return u, nil
	case map[string]any:
		return p.object(x, ns)
	}
	return nil, fmt.Errorf("unexpected Avro schema element %T", v)
}

func (p *avroParser) lookup(name, ns string) *avroType {
	if !strings.Contains(name, ".") && ns != "" {
		if t := p.named[ns+"."+name]; t != nil {
			return t
		}
	}
	return p.named[name]
}

func (p *avroParser) object(x map[string]any, ns string) (*avroType, error) {
	switch typ, _ := x["type"].(string); typ {
	case "record", "error", "enum", "fixed":
		return p.namedType(x, typ, ns)
	case "array", "map":
		key := map[string]string{"array": "items", "map": "values"}[typ]
		items, err := p.parse(x[key], ns)
		if err != nil {
			return nil, err
		}
		kind := avroArray
		if typ == "map" {
			kind = avroMap
		}
		return &avroType{kind: kind, items: items}, nil
	}
	inner, err := p.parse(x["type"], ns)
	if err != nil {
		return nil, err
	}
	if inner.kind > avroString {
		return inner, nil
	}
	t := *inner
	setProps(&t, x)
	return &t, nil
}

func (p *avroParser) namedType(x map[string]any, typ, ns string) (*avroType, error) {
	name, _ := x["name"].(string)
	if name == "" {
		return nil, fmt.Errorf("avro %s without a name", typ)
	}
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		ns = name[:i]
	} else if n, ok := x["namespace"].(string); ok {
		ns = n
	}
	full := name
	if !strings.Contains(name, ".") && ns != "" {
		full = ns + "." + name
	}
	t := &avroType{name: full}
	setProps(t, x)
	p.named[full] = t // before the fields: a record may refer to itself
	switch typ {
	case "enum":
		t.kind = avroEnum
		syms, _ := x["symbols"].([]any)
		for _, s := range syms {
			str, _ := s.(string)
			t.symbols = append(t.symbols, str)
		}
	case "fixed":
		t.kind = avroFixed
		size, _ := x["size"].(float64)
		t.size = int(size)
	default:
		t.kind = avroRecord
		fields, _ := x["fields"].([]any)
		for _, f := range fields {
			fm, _ := f.(map[string]any)
			fname, _ := fm["name"].(string)
			ft, err := p.parse(fm["type"], ns)
			if err != nil {
				return nil, fmt.Errorf("field %s.%s: %w", full, fname, err)
			}
			t.fields = append(t.fields, avroField{name: fname, typ: ft})
		}
	}
	return t, nil
}

func setProps(t *avroType, x map[string]any) {
	t.connectName, _ = x["connect.name"].(string)
	t.logical, _ = x["logicalType"].(string)
	if s, ok := x["scale"].(float64); ok {
		t.scale = int(s)
	} else if params, ok := x["connect.parameters"].(map[string]any); ok {
		if s, ok := params["scale"].(string); ok {
			t.scale, _ = strconv.Atoi(s)
		}
	}
}
