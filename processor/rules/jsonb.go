package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
)

// jsonb columns are read straight into the records of the trigger schemas by a small validating
// reader: no reflection, numbers kept as exact text, strings without escapes sliced, not copied.

// jsonKind says how one field of a jsonb object becomes a plain value.
type jsonKind uint8

const (
	jsonText    jsonKind = iota // a string; any other scalar keeps its JSON text
	jsonDecimal                 // a number (or numeric string) as a decimal field's value
	jsonInstant                 // a timestamp string as time.Time
	jsonRaw                     // any value as its JSON text, for shapes that are not fixed
	jsonRecord                  // an object of shape rec
	jsonRecords                 // an array of objects of shape rec
)

type jsonField struct {
	name string
	kind jsonKind
	rec  *jsonShape
}

// jsonShape is the record a jsonb object is read into. Keys it does not list are skipped; keys
// the object lacks are left out of the record, which the schemas read as null.
type jsonShape struct {
	fields []jsonField
}

func (s *jsonShape) field(key string) *jsonField {
	for i := range s.fields {
		if s.fields[i].name == key {
			return &s.fields[i]
		}
	}
	return nil
}

func textFields(names ...string) []jsonField {
	fs := make([]jsonField, len(names))
	for i, n := range names {
		fs[i] = jsonField{name: n}
	}
	return fs
}

// The shapes of the jsonb columns (CONTRACT §1), in the field names of the trigger schemas.
var (
	addressShape = &jsonShape{textFields("street", "address1", "address2", "postal", "city", "province", "country")}
	companyShape = &jsonShape{textFields("name", "nip")}
	// Custom attributes and item labels: [{key, value}].
	attributeShape   = &jsonShape{textFields("key", "value")}
	actionCauseShape = &jsonShape{append(
		textFields("campaignId", "customerId", "transactionId", "customEventId", "internalEventName"),
		jsonField{name: "performedAt", kind: jsonInstant})}
	transactionCustomerShape = &jsonShape{append(
		textFields("email", "name", "nip", "phone", "loyaltyCardNumber"),
		jsonField{name: "address", kind: jsonRecord, rec: addressShape})}
	itemShape = &jsonShape{[]jsonField{
		{name: "sku", kind: jsonRecord, rec: &jsonShape{textFields("code")}},
		{name: "name"},
		{name: "quantity", kind: jsonDecimal},
		{name: "grossValue", kind: jsonDecimal},
		{name: "category"},
		{name: "maker"},
		{name: "labels", kind: jsonRecords, rec: attributeShape},
	}}
	campaignTriggerShape = &jsonShape{[]jsonField{
		{name: "type"},
		{name: "triggerId"},
		{name: "createdAt", kind: jsonInstant},
		{name: "purchasedAt", kind: jsonInstant},
		{name: "documentNumber"},
		{name: "eventDate", kind: jsonInstant},
		{name: "eventId"},
		{name: "payload", kind: jsonRaw},
		{name: "relatedAchievement", kind: jsonRaw},
	}}
)

// jsonColumn reads a jsonb column as one record (kind jsonRecord) or an array of records
// (jsonRecords). SQL NULL, JSON null and unavailable values give nil; malformed JSON or a value
// of the wrong shape is an error naming the column.
func jsonColumn(col string, v cdc.Value, kind jsonKind, shape *jsonShape) (any, error) {
	if !v.Known() {
		return nil, nil
	}
	if v.Kind != cdc.JSON && v.Kind != cdc.String {
		return nil, columnError(col, kindError("jsonb", v))
	}
	r := jsonReader{s: v.Str}
	out, err := r.value(&jsonField{name: col, kind: kind, rec: shape})
	if err == nil {
		r.space()
		if r.i < len(r.s) {
			err = r.fail("data after the value")
		}
	}
	if err != nil {
		return nil, columnError(col, err)
	}
	return out, nil
}

// emptyList is the value of an empty array. Having no room, it can be shared: nothing can be
// written into it.
var emptyList any = []any{}

// maxJSONDepth bounds the nesting skipped values may have, so hostile input cannot exhaust
// the stack.
const maxJSONDepth = 1000

type jsonReader struct {
	s string
	i int
}

func (r *jsonReader) fail(msg string) error {
	return fmt.Errorf("malformed JSON at byte %d: %s", r.i, msg)
}

func (r *jsonReader) space() {
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (r *jsonReader) peek() byte {
	r.space()
	if r.i < len(r.s) {
		return r.s[r.i]
	}
	return 0
}

// consume skips white space and c if c comes next.
func (r *jsonReader) consume(c byte) bool {
	if r.peek() == c {
		r.i++
		return true
	}
	return false
}

// value reads the next value as field f says.
func (r *jsonReader) value(f *jsonField) (any, error) {
	c := r.peek()
	if c == 'n' {
		return nil, r.literal("null")
	}
	switch f.kind {
	case jsonText:
		if c == '"' {
			return r.str()
		}
		start := r.i
		if err := r.skip(0); err != nil {
			return nil, err
		}
		return r.s[start:r.i], nil
	case jsonDecimal:
		var s string
		var err error
		if c == '"' {
			s, err = r.str()
		} else {
			s, err = r.number()
		}
		if err != nil {
			return nil, err
		}
		d, err := decimalValue(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		return d, nil
	case jsonInstant:
		if c != '"' {
			return nil, r.fail(f.name + ": want a timestamp string")
		}
		s, err := r.str()
		if err != nil {
			return nil, err
		}
		t, err := parseTime(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		return t, nil
	case jsonRaw:
		start := r.i
		if err := r.skip(0); err != nil {
			return nil, err
		}
		return r.s[start:r.i], nil
	case jsonRecord:
		return r.record(f)
	case jsonRecords:
		if !r.consume('[') {
			return nil, r.fail(f.name + ": want an array")
		}
		if r.consume(']') {
			return emptyList, nil
		}
		// The records are gathered on the stack and copied once their number is known.
		var gathered [8]any
		list := gathered[:0]
		for {
			if r.peek() != '{' {
				return nil, r.fail(f.name + ": want an object")
			}
			rec, err := r.record(f)
			if err != nil {
				return nil, err
			}
			list = append(list, rec)
			if r.consume(']') {
				return slices.Clone(list), nil
			}
			if !r.consume(',') {
				return nil, r.fail("want , or ]")
			}
		}
	}
	return nil, fmt.Errorf("%s: unknown field kind %d", f.name, f.kind)
}

// record reads an object into a record of shape f.rec.
func (r *jsonReader) record(f *jsonField) (map[string]any, error) {
	if !r.consume('{') {
		return nil, r.fail(f.name + ": want an object")
	}
	m := make(map[string]any, len(f.rec.fields))
	if r.consume('}') {
		return m, nil
	}
	for {
		if r.peek() != '"' {
			return nil, r.fail("want a key")
		}
		key, err := r.str()
		if err != nil {
			return nil, err
		}
		if !r.consume(':') {
			return nil, r.fail("want :")
		}
		if sub := f.rec.field(key); sub != nil {
			v, err := r.value(sub)
			if err != nil {
				return nil, err
			}
			m[sub.name] = v
		} else if err := r.skip(0); err != nil {
			return nil, err
		}
		if r.consume('}') {
			return m, nil
		}
		if !r.consume(',') {
			return nil, r.fail("want , or }")
		}
	}
}

// skip passes over one value of any kind, checking that it is well formed.
func (r *jsonReader) skip(depth int) error {
	if depth > maxJSONDepth {
		return r.fail("nested too deep")
	}
	switch c := r.peek(); {
	case c == '"':
		_, err := r.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		_, err := r.number()
		return err
	case c == 't':
		return r.literal("true")
	case c == 'f':
		return r.literal("false")
	case c == 'n':
		return r.literal("null")
	case c == '[':
		r.i++
		if r.consume(']') {
			return nil
		}
		for {
			if err := r.skip(depth + 1); err != nil {
				return err
			}
			if r.consume(']') {
				return nil
			}
			if !r.consume(',') {
				return r.fail("want , or ]")
			}
		}
	case c == '{':
		r.i++
		if r.consume('}') {
			return nil
		}
		for {
			if r.peek() != '"' {
				return r.fail("want a key")
			}
			if _, err := r.str(); err != nil {
				return err
			}
			if !r.consume(':') {
				return r.fail("want :")
			}
			if err := r.skip(depth + 1); err != nil {
				return err
			}
			if r.consume('}') {
				return nil
			}
			if !r.consume(',') {
				return r.fail("want , or }")
			}
		}
	}
	return r.fail("want a value")
}

func (r *jsonReader) literal(lit string) error {
	if !strings.HasPrefix(r.s[r.i:], lit) {
		return r.fail("want a value")
	}
	r.i += len(lit)
	return nil
}

// number reads a JSON number and returns its text.
func (r *jsonReader) number() (string, error) {
	start := r.i
	if r.i < len(r.s) && r.s[r.i] == '-' {
		r.i++
	}
	switch {
	case r.i < len(r.s) && r.s[r.i] == '0':
		r.i++
	case r.digits() == 0:
		return "", r.fail("want a number")
	}
	if r.i < len(r.s) && r.s[r.i] == '.' {
		r.i++
		if r.digits() == 0 {
			return "", r.fail("want fraction digits")
		}
	}
	if r.i < len(r.s) && (r.s[r.i] == 'e' || r.s[r.i] == 'E') {
		r.i++
		if r.i < len(r.s) && (r.s[r.i] == '+' || r.s[r.i] == '-') {
			r.i++
		}
		if r.digits() == 0 {
			return "", r.fail("want exponent digits")
		}
	}
	return r.s[start:r.i], nil
}

func (r *jsonReader) digits() int {
	start := r.i
	for r.i < len(r.s) && r.s[r.i] >= '0' && r.s[r.i] <= '9' {
		r.i++
	}
	return r.i - start
}

var errJSONString = errors.New("malformed JSON string")

// str reads a JSON string at r.i and returns its value: a slice of the input when it has no
// escapes. Like encoding/json, it turns invalid UTF-8 and lone surrogates into U+FFFD.
func (r *jsonReader) str() (string, error) {
	r.i++ // the opening quote
	start := r.i
	for r.i < len(r.s) {
		c := r.s[r.i]
		switch {
		case c == '"':
			r.i++
			return r.s[start : r.i-1], nil
		case c == '\\':
			return r.unescape(start)
		case c < ' ':
			return "", r.fail("control character in string")
		case c >= utf8.RuneSelf:
			ru, n := utf8.DecodeRuneInString(r.s[r.i:])
			if ru == utf8.RuneError && n == 1 {
				return r.unescape(start)
			}
			r.i += n
			continue
		}
		r.i++
	}
	return "", fmt.Errorf("%w: unterminated", errJSONString)
}

func (r *jsonReader) unescape(start int) (string, error) {
	var b strings.Builder
	b.WriteString(r.s[start:r.i])
	for r.i < len(r.s) {
		c := r.s[r.i]
		switch {
		case c == '"':
			r.i++
			return b.String(), nil
		case c < ' ':
			return "", r.fail("control character in string")
		case c >= utf8.RuneSelf:
			ru, n := utf8.DecodeRuneInString(r.s[r.i:])
			b.WriteRune(ru) // RuneError for invalid UTF-8
			r.i += n
			continue
		case c != '\\':
			b.WriteByte(c)
			r.i++
			continue
		}
		if r.i+1 >= len(r.s) {
			break
		}
		e := r.s[r.i+1]
		r.i += 2
		switch e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			ru, ok := r.hex4()
			if !ok {
				return "", r.fail("bad \\u escape")
			}
			if utf16.IsSurrogate(ru) {
				ru = r.lowSurrogate(ru)
			}
			b.WriteRune(ru)
		default:
			return "", r.fail("bad escape")
		}
	}
	return "", fmt.Errorf("%w: unterminated", errJSONString)
}

// lowSurrogate completes a UTF-16 surrogate pair whose high half is hi, consuming the low half
// when it follows; a lone half is U+FFFD.
func (r *jsonReader) lowSurrogate(hi rune) rune {
	if !strings.HasPrefix(r.s[r.i:], `\u`) {
		return utf8.RuneError
	}
	save := r.i
	r.i += 2
	lo, ok := r.hex4()
	if ok {
		if ru := utf16.DecodeRune(hi, lo); ru != utf8.RuneError {
			return ru
		}
	}
	r.i = save
	return utf8.RuneError
}

func (r *jsonReader) hex4() (rune, bool) {
	if r.i+4 > len(r.s) {
		return 0, false
	}
	var ru rune
	for _, c := range []byte(r.s[r.i : r.i+4]) {
		ru <<= 4
		switch {
		case c >= '0' && c <= '9':
			ru |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			ru |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			ru |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	r.i += 4
	return ru, true
}
