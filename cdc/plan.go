package cdc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
)

// op says how to read one column value. It is chosen once per schema from the wire type, its
// Connect or Avro semantic name and the column's reference type, so the hot path only switches.
type op uint8

const (
	opAny          op = iota // a column the reference schema lacks: by the value's own type
	opText                   // String
	opInt                    // Int
	opBool                   // Bool
	opNumeric                // Decimal from text (string mode), a double, or {scale, value}
	opDecimalBytes           // Decimal from two's-complement bytes and the field's scale
	opTimestamp              // Time from ISO-8601 text or epoch microseconds
	opMillis                 // Time from epoch milliseconds
	opNanos                  // Time from epoch nanoseconds
	opDate                   // Date from epoch days or YYYY-MM-DD
	opJSON                   // JSON from text holding a JSON document
	opBytes                  // String holding the base64 of a binary value
	opRaw                    // JSON: the value itself rendered as JSON
)

// bareOp is how a value of a reference type is read when the record has no schema.
func bareOp(t ColumnType) op {
	switch t {
	case TypeUUID, TypeText:
		return opText
	case TypeInt:
		return opInt
	case TypeBool:
		return opBool
	case TypeNumeric:
		return opNumeric
	case TypeTimestamptz:
		return opTimestamp
	case TypeDate:
		return opDate
	case TypeJSONB:
		return opJSON
	}
	return opAny
}

// Semantic type names of Kafka Connect and Debezium (the Connect schema "name", the Avro
// "connect.name").
const (
	nameZonedTimestamp       = "io.debezium.time.ZonedTimestamp"
	nameMicroTimestamp       = "io.debezium.time.MicroTimestamp"
	nameTimestamp            = "io.debezium.time.Timestamp"
	nameNanoTimestamp        = "io.debezium.time.NanoTimestamp"
	nameConnectTimestamp     = "org.apache.kafka.connect.data.Timestamp"
	nameDate                 = "io.debezium.time.Date"
	nameConnectDate          = "org.apache.kafka.connect.data.Date"
	nameDecimal              = "org.apache.kafka.connect.data.Decimal"
	nameVariableScaleDecimal = "io.debezium.data.VariableScaleDecimal"
	nameJSON                 = "io.debezium.data.Json"
)

// semanticOp is the op a semantic name decides on its own, whatever the wire type.
func semanticOp(name string, typ ColumnType) (op, bool) {
	switch name {
	case nameZonedTimestamp, nameMicroTimestamp:
		return opTimestamp, true
	case nameTimestamp, nameConnectTimestamp:
		return opMillis, true
	case nameNanoTimestamp:
		return opNanos, true
	case nameDate, nameConnectDate:
		return opDate, true
	case nameVariableScaleDecimal:
		return opNumeric, true
	case nameJSON:
		if typ == TypeText || typ == TypeUUID {
			return opText, true
		}
		return opJSON, true
	}
	return 0, false
}

// field is one column of a row plan.
type field struct {
	phys  string // name on the wire
	name  string // name in the Change
	op    op
	scale int // of opDecimalBytes
}

// rowPlan reads the columns of one row image.
type rowPlan struct {
	fields   []field
	index    map[string]int
	fallback *rowPlan // the table's bare plan, for columns the record's schema does not describe
}

func (p *rowPlan) add(f field) {
	if p.index == nil {
		p.index = map[string]int{}
	}
	p.index[f.phys] = len(p.fields)
	p.fields = append(p.fields, f)
}

// find returns the field named key. Debezium writes columns in table order, so the field after
// the previous one is tried before the index.
func (p *rowPlan) find(key []byte, next int) (*field, int) {
	if next < len(p.fields) && string(key) == p.fields[next].phys {
		return &p.fields[next], next + 1
	}
	if i, ok := p.index[string(key)]; ok {
		return &p.fields[i], i + 1
	}
	if p.fallback != nil {
		if i, ok := p.fallback.index[string(key)]; ok {
			return &p.fallback.fields[i], next
		}
	}
	return nil, next
}

// connectSchema is a Kafka Connect schema as the JSON converter embeds it.
type connectSchema struct {
	Type       string          `json:"type"`
	Name       string          `json:"name"`
	Field      string          `json:"field"`
	Fields     []connectSchema `json:"fields"`
	Parameters map[string]any  `json:"parameters"`
}

func (s *connectSchema) field(name string) *connectSchema {
	for i := range s.Fields {
		if s.Fields[i].Field == name {
			return &s.Fields[i]
		}
	}
	return nil
}

// scale reads the Decimal scale parameter (a string in Connect, tolerated as a number).
func (s *connectSchema) scale() (int, error) {
	switch v := s.Parameters["scale"].(type) {
	case string:
		return strconv.Atoi(v)
	case float64:
		return int(v), nil
	}
	return 0, fmt.Errorf("field %s: Decimal without a scale parameter", s.Field)
}

// valuePlan reads the row images of an envelope whose Connect schema the record embeds.
type valuePlan struct {
	before, after *rowPlan
}

func parseConnectSchema(text []byte) (*connectSchema, error) {
	var cs connectSchema
	if err := json.Unmarshal(text, &cs); err != nil {
		return nil, faultf(ReasonUndecodable, "embedded schema: %v", err)
	}
	return &cs, nil
}

func compileValuePlan(text []byte, t *tableInfo) (*valuePlan, error) {
	cs, err := parseConnectSchema(text)
	if err != nil {
		return nil, err
	}
	vp := &valuePlan{}
	if f := cs.field("before"); f != nil && f.Type == "struct" {
		if vp.before, err = compileRowPlan(f, t); err != nil {
			return nil, err
		}
	}
	if f := cs.field("after"); f != nil && f.Type == "struct" {
		if vp.after, err = compileRowPlan(f, t); err != nil {
			return nil, err
		}
	}
	return vp, nil
}

func compileKeyPlan(text []byte, t *tableInfo) (*rowPlan, error) {
	cs, err := parseConnectSchema(text)
	if err != nil {
		return nil, err
	}
	return compileRowPlan(cs, t)
}

// compileRowPlan builds the plan of a Connect struct of table columns.
func compileRowPlan(cs *connectSchema, t *tableInfo) (*rowPlan, error) {
	p := &rowPlan{fallback: &t.bare}
	for i := range cs.Fields {
		f := &cs.Fields[i]
		if f.Field == "" {
			continue
		}
		name, typ := f.Field, ColumnType("")
		if c := t.column(f.Field); c != nil {
			name, typ = c.logical, c.typ
		}
		o, scale, err := connectOp(f, typ)
		if err != nil {
			return nil, faultf(ReasonUndecodable, "embedded schema: %v", err)
		}
		p.add(field{phys: f.Field, name: name, op: o, scale: scale})
	}
	return p, nil
}

// connectOp chooses how to read a field of a Connect schema that holds a column of type typ.
func connectOp(f *connectSchema, typ ColumnType) (op, int, error) {
	if o, ok := semanticOp(f.Name, typ); ok {
		return o, 0, nil
	}
	if f.Name == nameDecimal {
		scale, err := f.scale()
		return opDecimalBytes, scale, err
	}
	switch f.Type {
	case "string":
		if o := bareOp(typ); o != opAny {
			return o, 0, nil
		}
		return opText, 0, nil
	case "int8", "int16", "int32", "int64":
		switch typ {
		case TypeNumeric, TypeTimestamptz, TypeDate:
			return bareOp(typ), 0, nil
		}
		return opInt, 0, nil
	case "float", "float32", "float64", "double":
		return opNumeric, 0, nil
	case "boolean":
		return opBool, 0, nil
	case "bytes":
		if typ == TypeNumeric {
			return opNumeric, 0, nil
		}
		return opBytes, 0, nil
	}
	return opRaw, 0, nil
}

// schemaCache remembers the plans of the few embedded schemas a topic has shown lately. A record
// whose schema text starts like a remembered one is matched with one comparison of bytes, so
// the schema is neither hashed nor parsed again.
type schemaCache[P any] struct {
	mu     sync.Mutex
	recent atomic.Pointer[[]cachedSchema[P]]
}

type cachedSchema[P any] struct {
	text []byte
	plan P
}

// schemaCacheSize bounds the schema versions one topic keeps; more only cost a recompile.
const schemaCacheSize = 4

func (c *schemaCache[P]) match(b []byte) (plan P, n int, ok bool) {
	if list := c.recent.Load(); list != nil {
		for _, e := range *list {
			if bytes.HasPrefix(b, e.text) {
				return e.plan, len(e.text), true
			}
		}
	}
	return plan, 0, false
}

func (c *schemaCache[P]) store(text []byte, plan P) {
	c.mu.Lock()
	defer c.mu.Unlock()
	list := []cachedSchema[P]{{text: bytes.Clone(text), plan: plan}}
	if old := c.recent.Load(); old != nil {
		list = append(list, (*old)[:min(len(*old), schemaCacheSize-1)]...)
	}
	c.recent.Store(&list)
}
