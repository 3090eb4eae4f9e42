package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
)

// units is an exact amount in hundredths: points, money. Amounts never pass through floats.
type units int64

// String renders the amount with two decimals, as an application writing numeric(…,2) values
// into an unconstrained numeric column would leave it: "12.50", "-3.00".
func (u units) String() string {
	sign := ""
	if u < 0 {
		sign, u = "-", -u
	}
	return fmt.Sprintf("%s%d.%02d", sign, u/100, u%100)
}

// whole is n whole units.
func whole(n int) units { return units(n) * 100 }

func decimal(u units) cdc.Value { return cdc.DecimalValue(u.String()) }

func optDecimal(u *units) cdc.Value {
	if u == nil {
		return cdc.Value{}
	}
	return decimal(*u)
}

func ptr[T any](v T) *T { return &v }

// text is a text or uuid column; the empty string is NULL.
func text(s string) cdc.Value {
	if s == "" {
		return cdc.Value{}
	}
	return cdc.StringValue(s)
}

// instant is a timestamptz column; the zero time is NULL.
func instant(t time.Time) cdc.Value {
	if t.IsZero() {
		return cdc.Value{}
	}
	return cdc.TimeValue(t)
}

// day is a date column; the zero time is NULL.
func day(t time.Time) cdc.Value {
	if t.IsZero() {
		return cdc.Value{}
	}
	return cdc.DateValue(t.Unix() / 86400)
}

// jsonb is a jsonb column; nil is NULL.
func jsonb(v any) cdc.Value {
	if v == nil {
		return cdc.Value{}
	}
	return cdc.JSONValue(jsonbText(v))
}

// isoTime is how Open Loyalty writes instants inside JSON documents.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05-07:00") }

// jsonbText renders v the way PostgreSQL prints a jsonb value, which is what Debezium reads:
// object keys ordered by length and then bytes, ", " and ": " as separators, non-ASCII text as is.
func jsonbText(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("simulator: jsonb value %T: %v", v, err)) // the simulator's own types
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		panic(fmt.Sprintf("simulator: jsonb value %T: %v", v, err))
	}
	var b strings.Builder
	writeJSONB(&b, tree)
	return b.String()
}

func writeJSONB(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case json.Number:
		b.WriteString(v.String())
	case string:
		writeJSONBString(b, v)
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONB(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(x, y string) int {
			if len(x) != len(y) {
				return len(x) - len(y)
			}
			return strings.Compare(x, y)
		})
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONBString(b, k)
			b.WriteString(": ")
			writeJSONB(b, v[k])
		}
		b.WriteByte('}')
	}
}

func writeJSONBString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// rowOf starts a row of a reference table with every column NULL, in table order: Debezium
// always sends every column.
func rowOf(table string) *cdc.Row {
	def, ok := cdc.ReferenceTable(table)
	if !ok {
		panic("simulator: no reference table " + table)
	}
	r := &cdc.Row{Columns: make([]cdc.Column, len(def.Columns))}
	for i, c := range def.Columns {
		r.Columns[i].Name = c.Name
	}
	return r
}

// set assigns a column that must exist in the row; a misspelt name is a defect, not new data.
func set(r *cdc.Row, name string, v cdc.Value) {
	for i := range r.Columns {
		if r.Columns[i].Name == name {
			r.Columns[i].Value = v
			return
		}
	}
	panic("simulator: no column " + name)
}
