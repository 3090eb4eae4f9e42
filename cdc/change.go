package cdc

import (
	"strconv"
	"strings"
	"time"
)

// Op is the Debezium operation of a change.
type Op byte

// The operations Debezium emits, as the single letters of the envelope's "op" field.
const (
	OpCreate   Op = 'c'
	OpUpdate   Op = 'u'
	OpDelete   Op = 'd'
	OpRead     Op = 'r' // snapshot read
	OpTruncate Op = 't'
	OpMessage  Op = 'm' // logical decoding message
)

func (o Op) String() string { return string(rune(o)) }

// Kind says how a Value is to be read.
type Kind uint8

// Value kinds. The zero Value is Null.
const (
	Null        Kind = iota
	Unavailable      // __debezium_unavailable_value: not known, never "changed"
	String           // text, uuid, enum; Str holds it
	Int              // integers; Int holds it
	Bool             // Int is 1 for true, 0 for false
	Decimal          // exact decimal; Str holds its canonical text, e.g. "-12.5"
	Time             // an instant; Int holds Unix microseconds (UTC)
	Date             // a calendar date; Int holds days since 1970-01-01
	JSON             // jsonb; Str holds the JSON text
)

// Value is one typed column value, independent of the wire format it came in.
type Value struct {
	Kind Kind
	Str  string
	Int  int64
}

// Constructors keep call sites short and the field use consistent.
func StringValue(s string) Value  { return Value{Kind: String, Str: s} }
func IntValue(i int64) Value      { return Value{Kind: Int, Int: i} }
func DecimalValue(s string) Value { return Value{Kind: Decimal, Str: s} }
func JSONValue(s string) Value    { return Value{Kind: JSON, Str: s} }
func DateValue(days int64) Value  { return Value{Kind: Date, Int: days} }
func TimeValue(t time.Time) Value { return Value{Kind: Time, Int: t.UnixMicro()} }
func MicrosValue(us int64) Value  { return Value{Kind: Time, Int: us} }
func UnavailableValue() Value     { return Value{Kind: Unavailable} }
func BoolValue(b bool) Value {
	if b {
		return Value{Kind: Bool, Int: 1}
	}
	return Value{Kind: Bool}
}

// IsNull reports whether the value is SQL NULL.
func (v Value) IsNull() bool { return v.Kind == Null }

// Known reports whether the value is present and not the unavailable marker.
func (v Value) Known() bool { return v.Kind != Null && v.Kind != Unavailable }

// Bool returns the value as a boolean (false unless it is a true Bool).
func (v Value) Bool() bool { return v.Kind == Bool && v.Int != 0 }

// Time returns an instant or a date as a UTC time.
func (v Value) Time() time.Time {
	switch v.Kind {
	case Time:
		return time.UnixMicro(v.Int).UTC()
	case Date:
		return time.Unix(v.Int*86400, 0).UTC()
	}
	return time.Time{}
}

// Text renders the value as text: strings, decimals and JSON as they are, numbers in base 10,
// instants as RFC 3339 with microseconds, dates as YYYY-MM-DD. Null and unavailable give "".
func (v Value) Text() string {
	switch v.Kind {
	case String, Decimal, JSON:
		return v.Str
	case Int:
		return strconv.FormatInt(v.Int, 10)
	case Bool:
		return strconv.FormatBool(v.Int != 0)
	case Time:
		return v.Time().Format(time.RFC3339Nano)
	case Date:
		return v.Time().Format(time.DateOnly)
	}
	return ""
}

// Equal reports whether two values are the same. An unavailable value is equal to nothing,
// so callers must test Known before treating a difference as a change.
func (v Value) Equal(w Value) bool {
	if v.Kind == Unavailable || w.Kind == Unavailable {
		return false
	}
	return v == w
}

// Column is one named value of a row. Names are the logical names of the config mapping.
type Column struct {
	Name  string
	Value Value
}

// Row is the columns of a table row in the order the source gave them.
type Row struct {
	Columns []Column
}

// Get returns the named column's value, or Null when the row has no such column.
func (r *Row) Get(name string) Value {
	if r == nil {
		return Value{}
	}
	for i := range r.Columns {
		if r.Columns[i].Name == name {
			return r.Columns[i].Value
		}
	}
	return Value{}
}

// Has reports whether the row carries the named column at all.
func (r *Row) Has(name string) bool {
	if r == nil {
		return false
	}
	for i := range r.Columns {
		if r.Columns[i].Name == name {
			return true
		}
	}
	return false
}

// Set replaces the named column's value or appends it.
func (r *Row) Set(name string, v Value) {
	for i := range r.Columns {
		if r.Columns[i].Name == name {
			r.Columns[i].Value = v
			return
		}
	}
	r.Columns = append(r.Columns, Column{Name: name, Value: v})
}

// Source is where a change came from: Debezium's source block plus the Kafka coordinates.
type Source struct {
	TsMs     int64  // source.ts_ms: when the database committed the change
	Snapshot string // "true", "last", "first", "incremental", "false" or ""
	DB       string
	Schema   string
	Table    string // physical table name as Debezium reported it
	TxID     int64
	LSN      int64

	Topic     string
	Partition int32
	Offset    int64
}

// Message is the content of a logical decoding message (op "m").
type Message struct {
	Prefix  string
	Content []byte
}

// Change is one row change, decoded from any source format, with logical table and column names.
type Change struct {
	Table   string // logical table name of the config mapping, e.g. "member"
	Op      Op
	Key     *Row // primary-key columns
	Before  *Row // nil on insert, snapshot read, truncate and message
	After   *Row // nil on delete, truncate and message
	Source  Source
	TsMs    int64 // envelope ts_ms: when Debezium processed the change
	Message *Message
}

// Row returns the row image that describes the entity now: After, or Before for a delete.
func (c *Change) Row() *Row {
	if c.After != nil {
		return c.After
	}
	return c.Before
}

// KeyText renders the primary key as text: the single key value, or "col=value" pairs joined by
// "," for composite keys. It is stable for a given key and used in message ids and lookups.
func (c *Change) KeyText() string {
	if c.Key == nil || len(c.Key.Columns) == 0 {
		return ""
	}
	if len(c.Key.Columns) == 1 {
		return c.Key.Columns[0].Value.Text()
	}
	var b strings.Builder
	for i, col := range c.Key.Columns {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(col.Name)
		b.WriteByte('=')
		b.WriteString(col.Value.Text())
	}
	return b.String()
}
