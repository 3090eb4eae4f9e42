package debezium

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// connectSchema is a Kafka Connect schema as Debezium builds it. The JSON converter embeds it as
// is; the Avro converter translates it (AvroData.fromConnectSchema).
type connectSchema struct {
	typ      string // int16, int32, int64, boolean, string, bytes, double, struct
	name     string // semantic type or struct name
	version  int
	doc      string
	params   []param
	optional bool
	def      string // default of an optional string field ("" for none)
	fields   []field
}

type param struct{ key, value string }

type field struct {
	name   string
	schema *connectSchema
}

// structValue holds the values of a struct's fields, in the schema's order.
type structValue []any

// Semantic types of Debezium and Kafka Connect.
const (
	nameUUID                 = "io.debezium.data.Uuid"
	nameJSON                 = "io.debezium.data.Json"
	nameEnum                 = "io.debezium.data.Enum"
	nameZonedTimestamp       = "io.debezium.time.ZonedTimestamp"
	nameDate                 = "io.debezium.time.Date"
	nameVariableScaleDecimal = "io.debezium.data.VariableScaleDecimal"
)

func primitive(typ string, optional bool) *connectSchema {
	return &connectSchema{typ: typ, optional: optional}
}

func semantic(typ, name string, optional bool) *connectSchema {
	return &connectSchema{typ: typ, name: name, version: 1, optional: optional}
}

// variableScaleDecimal is the schema of an unconstrained NUMERIC in decimal.handling.mode=precise.
func variableScaleDecimal(optional bool) *connectSchema {
	return &connectSchema{
		typ: "struct", name: nameVariableScaleDecimal, version: 1, doc: "Variable scaled decimal",
		optional: optional,
		fields:   []field{{"scale", primitive("int32", false)}, {"value", primitive("bytes", false)}},
	}
}

// jsonWriter appends JSON the way Kafka Connect's JSON converter (Jackson) writes it.
type jsonWriter struct{ b []byte }

func (w *jsonWriter) raw(s string) { w.b = append(w.b, s...) }

func (w *jsonWriter) str(s string) { w.b = appendQuoted(w.b, s) }

func (w *jsonWriter) key(k string) {
	if n := len(w.b); n > 0 && w.b[n-1] != '{' && w.b[n-1] != '[' {
		w.b = append(w.b, ',')
	}
	w.str(k)
	w.b = append(w.b, ':')
}

// schema writes s as the JSON converter embeds it; fieldName is set for struct members.
func (w *jsonWriter) schema(s *connectSchema, fieldName string) {
	w.raw("{")
	w.key("type")
	w.str(s.typ)
	if s.typ == "struct" {
		w.key("fields")
		w.raw("[")
		for i, f := range s.fields {
			if i > 0 {
				w.raw(",")
			}
			w.schema(f.schema, f.name)
		}
		w.raw("]")
	}
	w.key("optional")
	w.raw(strconv.FormatBool(s.optional))
	if s.name != "" {
		w.key("name")
		w.str(s.name)
	}
	if s.version != 0 {
		w.key("version")
		w.raw(strconv.Itoa(s.version))
	}
	if s.doc != "" {
		w.key("doc")
		w.str(s.doc)
	}
	if len(s.params) > 0 {
		w.key("parameters")
		w.raw("{")
		for _, p := range s.params {
			w.key(p.key)
			w.str(p.value)
		}
		w.raw("}")
	}
	if s.def != "" {
		w.key("default")
		w.str(s.def)
	}
	if fieldName != "" {
		w.key("field")
		w.str(fieldName)
	}
	w.raw("}")
}

// value writes v, a value of schema s, as the JSON converter writes a payload.
func (w *jsonWriter) value(s *connectSchema, v any) error {
	switch x := v.(type) {
	case nil:
		w.raw("null")
	case structValue:
		w.raw("{")
		for i, f := range s.fields {
			w.key(f.name)
			if err := w.value(f.schema, x[i]); err != nil {
				return err
			}
		}
		w.raw("}")
	case string:
		w.str(x)
	case int32:
		w.b = strconv.AppendInt(w.b, int64(x), 10)
	case int64:
		w.b = strconv.AppendInt(w.b, x, 10)
	case bool:
		w.b = strconv.AppendBool(w.b, x)
	case float64:
		w.raw(javaDouble(x))
	case []byte:
		w.str(base64.StdEncoding.EncodeToString(x))
	default:
		return fmt.Errorf("no JSON form for %T", v)
	}
	return nil
}

// javaDouble formats f as Java's Double.toString does, which is what Jackson writes.
func javaDouble(f float64) string {
	if a := math.Abs(f); a == 0 || (a >= 1e-3 && a < 1e7) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'E', -1, 64) // 1.25E+07
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	n, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(n)
}

func appendQuoted(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// avroWriter renders Connect schemas as the Avro converter does. Named records are defined once;
// later uses refer to them by name.
type avroWriter struct {
	jsonWriter
	defined map[string]bool
}

func splitName(full string) (ns, name string) {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[:i], full[i+1:]
	}
	return "", full
}

func avroPrimitive(typ string) string {
	switch typ {
	case "int8", "int16", "int32":
		return "int"
	case "int64":
		return "long"
	case "float32":
		return "float"
	case "float64", "double":
		return "double"
	}
	return typ // boolean, string, bytes
}

// avroType writes the Avro type of s (ignoring its optionality) inside namespace ns.
func (w *avroWriter) avroType(s *connectSchema, ns string) {
	if s.typ == "struct" {
		w.record(s, ns)
		return
	}
	base := avroPrimitive(s.typ)
	narrow := s.typ == "int8" || s.typ == "int16" // Avro has no such types; Connect remembers them
	if s.version == 0 && s.name == "" && s.doc == "" && len(s.params) == 0 && s.def == "" && !narrow {
		w.str(base)
		return
	}
	w.raw("{")
	w.key("type")
	w.str(base)
	if s.doc != "" {
		w.key("connect.doc")
		w.str(s.doc)
	}
	if s.version != 0 {
		w.key("connect.version")
		w.raw(strconv.Itoa(s.version))
	}
	if len(s.params) > 0 {
		w.key("connect.parameters")
		w.raw("{")
		for _, p := range s.params {
			w.key(p.key)
			w.str(p.value)
		}
		w.raw("}")
	}
	if s.def != "" {
		w.key("connect.default")
		w.str(s.def)
	}
	if s.name != "" {
		w.key("connect.name")
		w.str(s.name)
	}
	if narrow {
		w.key("connect.type")
		w.str(s.typ)
	}
	w.raw("}")
}

func (w *avroWriter) record(s *connectSchema, ns string) {
	rns, name := splitName(s.name)
	if w.defined[s.name] {
		if rns == ns {
			w.str(name)
		} else {
			w.str(s.name)
		}
		return
	}
	w.defined[s.name] = true
	w.raw("{")
	w.key("type")
	w.str("record")
	w.key("name")
	w.str(name)
	if rns != ns {
		w.key("namespace")
		w.str(rns)
	}
	w.key("fields")
	w.raw("[")
	for i, f := range s.fields {
		if i > 0 {
			w.raw(",")
		}
		w.field(f, rns)
	}
	w.raw("]")
	if s.doc != "" {
		w.key("connect.doc")
		w.str(s.doc)
	}
	if s.version != 0 {
		w.key("connect.version")
		w.raw(strconv.Itoa(s.version))
	}
	w.key("connect.name")
	w.str(s.name)
	w.raw("}")
}

// field writes a record field: optional fields become unions with null, null first unless the
// field has a default of its own.
func (w *avroWriter) field(f field, ns string) {
	s := f.schema
	w.raw("{")
	w.key("name")
	w.str(f.name)
	w.key("type")
	switch {
	case !s.optional:
		w.avroType(s, ns)
	case s.def != "":
		w.raw("[")
		w.avroType(s, ns)
		w.raw(`,"null"]`)
	default:
		w.raw(`["null",`)
		w.avroType(s, ns)
		w.raw("]")
	}
	if s.doc != "" {
		w.key("doc")
		w.str(s.doc)
	}
	if s.optional {
		w.key("default")
		if s.def != "" {
			w.str(s.def)
		} else {
			w.raw("null")
		}
	}
	w.raw("}")
}

// avroNative turns v, a value of schema s, into what goavro encodes: records as maps, and the
// non-null branch of an optional field wrapped in a map keyed by the branch's name.
func avroNative(s *connectSchema, v any) any {
	if v == nil {
		return nil
	}
	var n any
	switch x := v.(type) {
	case structValue:
		m := make(map[string]any, len(s.fields))
		for i, f := range s.fields {
			m[f.name] = avroNative(f.schema, x[i])
		}
		n = m
	default:
		n = v
	}
	if !s.optional {
		return n
	}
	branch := avroPrimitive(s.typ)
	if s.typ == "struct" {
		branch = s.name
	}
	return map[string]any{branch: n}
}
