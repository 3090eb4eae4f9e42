package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// kind is what the codec does with a value: one per Avro type and logical type it supports.
type kind uint8

const (
	kindNull kind = iota
	kindBoolean
	kindInt
	kindLong
	kindString
	kindUUID
	kindEnum
	kindDecimal
	kindTimestampMillis
	kindTimestampMicros
	kindDate
	kindRecord
	kindArray
	kindUnion
)

var kindNames = [...]string{
	kindNull:            "null",
	kindBoolean:         "boolean",
	kindInt:             "int",
	kindLong:            "long",
	kindString:          "string",
	kindUUID:            "uuid",
	kindEnum:            "enum",
	kindDecimal:         "decimal",
	kindTimestampMillis: "timestamp-millis",
	kindTimestampMicros: "timestamp-micros",
	kindDate:            "date",
	kindRecord:          "record",
	kindArray:           "array",
	kindUnion:           "union",
}

// avroType is a parsed schema: the plan the encoder, the decoder and the JSON rendering
// follow, built once per schema so no event walks schema JSON.
type avroType struct {
	kind kind
	name string // full name of a record or an enum

	fields     []field        // record
	fieldIndex map[string]int // record: field name → position

	symbols     []string       // enum
	symbolIndex map[string]int // enum

	items *avroType // array

	branches []*avroType // union
	null     int         // union: index of the null branch, -1 when there is none

	precision, scale       int      // decimal
	pow10, limit           *big.Int // decimal: 10^scale and 10^precision
	pow10Small, limitSmall uint64   // decimal: the same when they fit 64 bits, else 0
}

type field struct {
	name    string
	typ     *avroType
	jsonKey []byte // `"name":`
}

// some returns the non-null branch of a ["null", T] union.
func (t *avroType) some() (*avroType, int) {
	return t.branches[1-t.null], 1 - t.null
}

var primitiveTypes = map[string]*avroType{
	"null":    {kind: kindNull},
	"boolean": {kind: kindBoolean},
	"int":     {kind: kindInt},
	"long":    {kind: kindLong},
	"string":  {kind: kindString},
}

// decodeSchema decodes schema JSON keeping numbers as written.
func decodeSchema(schema []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(schema))
	d.UseNumber()
	var node any
	if err := d.Decode(&node); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return node, nil
}

// buildPlan builds the plan of a WebhookEvent schema (the composed one, or one a schema
// registry returned). Besides the data union, unions must be ["null", T]; floating point,
// plain bytes, fixed and maps are refused, so every value has one plain Go form.
func buildPlan(node any) (*avroType, error) {
	b := builder{names: map[string]*avroType{}}
	return b.build(node, "", "")
}

type builder struct {
	names map[string]*avroType
}

// build parses node; path locates it in the event for error messages.
func (b *builder) build(node any, ns, path string) (*avroType, error) {
	switch n := node.(type) {
	case string:
		return b.named(n, ns, path)
	case []any:
		return b.union(n, ns, path)
	case map[string]any:
		return b.object(n, ns, path)
	}
	return nil, fmt.Errorf("%s: not a schema: %v", path, node)
}

func (b *builder) named(name, ns, path string) (*avroType, error) {
	if t, ok := primitiveTypes[name]; ok {
		return t, nil
	}
	switch name {
	case "float", "double":
		return nil, fmt.Errorf("%s: %s is not supported: use a decimal", path, name)
	case "bytes":
		return nil, fmt.Errorf("%s: bytes is only supported as a decimal", path)
	}
	if t, ok := b.names[fullName(name, ns)]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("%s: unknown type %q", path, fullName(name, ns))
}

func (b *builder) union(branches []any, ns, path string) (*avroType, error) {
	t := &avroType{kind: kindUnion, null: -1}
	records := 0
	for i, branch := range branches {
		bt, err := b.build(branch, ns, path)
		if err != nil {
			return nil, err
		}
		switch bt.kind {
		case kindNull:
			t.null = i
		case kindRecord:
			records++
		}
		t.branches = append(t.branches, bt)
	}
	switch {
	case len(t.branches) == 2 && t.null >= 0:
	case path == "data" && records == len(t.branches):
		// The data union: the event name picks the branch.
	default:
		return nil, fmt.Errorf(`%s: only ["null", T] unions are supported`, path)
	}
	return t, nil
}

func (b *builder) object(n map[string]any, ns, path string) (*avroType, error) {
	typ, _ := n["type"].(string)
	logical, _ := n["logicalType"].(string)
	switch typ {
	case "record", "error", "enum":
		return b.define(n, ns, path)
	case "array":
		items, err := b.build(n["items"], ns, path+"[]")
		if err != nil {
			return nil, err
		}
		return &avroType{kind: kindArray, items: items}, nil
	case "map", "fixed":
		return nil, fmt.Errorf("%s: %s is not supported", path, typ)
	}
	switch typ + "/" + logical {
	case "string/uuid":
		return &avroType{kind: kindUUID}, nil
	case "bytes/decimal":
		return decimalType(n, path)
	case "long/timestamp-millis":
		return &avroType{kind: kindTimestampMillis}, nil
	case "long/timestamp-micros":
		return &avroType{kind: kindTimestampMicros}, nil
	case "int/date":
		return &avroType{kind: kindDate}, nil
	}
	if logical != "" {
		return nil, fmt.Errorf("%s: logical type %s of %v is not supported", path, logical, n["type"])
	}
	return b.build(n["type"], ns, path)
}

// define parses a record or enum definition.
func (b *builder) define(n map[string]any, ns, path string) (*avroType, error) {
	full, err := definedName(n, ns, path)
	if err != nil {
		return nil, err
	}
	if _, ok := b.names[full]; ok {
		return nil, fmt.Errorf("%s: type %q is defined twice", path, full)
	}
	t := &avroType{kind: kindRecord, name: full}
	b.names[full] = t // before the fields: a record may refer to itself
	if n["type"] == "enum" {
		return enumType(t, n, path)
	}
	if path == "data" { // a branch of the data union: name it like the encoder's errors do
		path += "." + full[strings.LastIndexByte(full, '.')+1:]
	}
	fields, err := recordFields(n, path)
	if err != nil {
		return nil, err
	}
	t.fieldIndex = make(map[string]int, len(fields))
	for i, f := range fields {
		name, _ := f["name"].(string)
		if name == "" {
			return nil, fmt.Errorf("%s: field %d has no name", path, i)
		}
		if _, dup := t.fieldIndex[name]; dup {
			return nil, fmt.Errorf("%s: field %s is defined twice", path, name)
		}
		ft, err := b.build(f["type"], namespaceOf(full), joinPath(path, name))
		if err != nil {
			return nil, err
		}
		t.fieldIndex[name] = i
		t.fields = append(t.fields, field{name: name, typ: ft, jsonKey: append(appendJSONString(nil, name), ':')})
	}
	return t, nil
}

func enumType(t *avroType, n map[string]any, path string) (*avroType, error) {
	t.kind = kindEnum
	symbols, _ := n["symbols"].([]any)
	t.symbolIndex = make(map[string]int, len(symbols))
	for i, s := range symbols {
		symbol, ok := s.(string)
		if !ok {
			return nil, fmt.Errorf("%s: enum %s: symbol %d is not a string", path, t.name, i)
		}
		t.symbols = append(t.symbols, symbol)
		t.symbolIndex[symbol] = i
	}
	if len(t.symbols) == 0 {
		return nil, fmt.Errorf("%s: enum %s has no symbols", path, t.name)
	}
	return t, nil
}

func decimalType(n map[string]any, path string) (*avroType, error) {
	precision, err := schemaInt(n, "precision")
	if err == nil && precision < 1 {
		err = fmt.Errorf("precision %d is below 1", precision)
	}
	var scale int
	if err == nil && n["scale"] != nil {
		scale, err = schemaInt(n, "scale")
	}
	if err == nil && (scale < 0 || scale > precision) {
		err = fmt.Errorf("scale %d is not within 0..precision", scale)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: decimal: %w", path, err)
	}
	t := &avroType{
		kind:      kindDecimal,
		precision: precision,
		scale:     scale,
		pow10:     new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil),
		limit:     new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(precision)), nil),
	}
	if t.pow10.IsUint64() {
		t.pow10Small = t.pow10.Uint64()
	}
	if t.limit.IsUint64() {
		t.limitSmall = t.limit.Uint64()
	}
	return t, nil
}

// maxDecimalDigits bounds the precision and scale of decimals.
const maxDecimalDigits = 1000

func schemaInt(n map[string]any, key string) (int, error) {
	num, ok := n[key].(json.Number)
	if !ok {
		return 0, fmt.Errorf("%s is not a number", key)
	}
	i, err := num.Int64()
	if err != nil || i > maxDecimalDigits {
		return 0, fmt.Errorf("%s %s is not a small integer", key, num)
	}
	return int(i), nil
}

// describe renders a type compactly, expanding records reached through fields and naming
// those reached through unions, e.g. "a.B{x:[null string] y:a.C}".
func describe(t *avroType) string {
	switch t.kind {
	case kindRecord:
		parts := make([]string, len(t.fields))
		for i, f := range t.fields {
			parts[i] = f.name + ":" + describe(f.typ)
		}
		return t.name + "{" + strings.Join(parts, " ") + "}"
	case kindUnion:
		parts := make([]string, len(t.branches))
		for i, b := range t.branches {
			parts[i] = kindNames[b.kind]
			if b.name != "" {
				parts[i] = b.name
			}
		}
		return "[" + strings.Join(parts, " ") + "]"
	case kindArray:
		return "array<" + describe(t.items) + ">"
	case kindEnum:
		return t.name
	}
	return kindNames[t.kind]
}
