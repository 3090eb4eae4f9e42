package cdc

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"
	"unsafe"
)

// Placeholder is what Debezium writes for an unchanged TOAST value it could not read
// (unavailable.value.placeholder); binary columns carry its bytes.
const Placeholder = "__debezium_unavailable_value"

// placeholderBase64 is the placeholder's bytes as the JSON converter writes a BYTES value.
var placeholderBase64 = base64.StdEncoding.EncodeToString([]byte(Placeholder))

var (
	errNotDecimal = errors.New("not a decimal number")
	errBase64Num  = errors.New("numeric value is base64 bytes without a known scale " +
		"(decimal.handling.mode=precise on a schemaless JSON topic): set decimal.handling.mode=string " +
		"or value.converter.schemas.enable=true")
)

// arena holds the text of one record: the copy of the record its strings are cut from, and the
// text the decoder has to build (unescaped strings, formatted decimals), so a record's text
// costs one allocation as a rule. Bytes are only ever appended, never changed, so strings that
// point into it stay valid whatever happens to the buffer later.
type arena struct{ buf []byte }

func (a *arena) mark() int { return len(a.buf) }

// since returns the text appended after mark n.
func (a *arena) since(n int) string {
	if len(a.buf) == n {
		return ""
	}
	return unsafe.String(&a.buf[n], len(a.buf)-n)
}

// grow makes room for n more bytes. When the buffer lacks it, text goes on in a new buffer
// rather than a bigger copy of this one: the strings cut so far keep the old one alive anyway.
func (a *arena) grow(n int) {
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, max(n, 256))
	}
}

// keep appends a copy of b and returns it as a string. A buffer made for it has room for spare
// more bytes, so the copy of a record that values are cut from and the text built while reading
// it share one allocation.
func (a *arena) keep(b []byte, spare int) string {
	if cap(a.buf)-len(a.buf) < len(b) {
		a.buf = make([]byte, 0, len(b)+spare)
	}
	m := a.mark()
	a.buf = append(a.buf, b...)
	return a.since(m)
}

// canonicalDecimal returns the canonical text of a decimal literal (optional sign, digits, point,
// exponent): no exponent, no leading "+", no leading or trailing zeros, "0" for any zero. When the
// canonical text is a part of s it is returned without copying.
func canonicalDecimal(s string, a *arena) (string, error) {
	i, neg := 0, false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	intStart := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < len(s) && s[i] == '.' {
		i++
		fracStart = i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		fracEnd = i
	}
	if intEnd == intStart && fracEnd == fracStart {
		return "", errNotDecimal
	}
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return "", errNotDecimal
		}
		exp, err := strconv.Atoi(s[i+1:])
		if err != nil || exp > 1000 || exp < -1000 {
			return "", errNotDecimal
		}
		return shiftDecimal(neg, s[intStart:intEnd]+s[fracStart:fracEnd], intEnd-intStart+exp, a), nil
	}
	for intStart < intEnd && s[intStart] == '0' {
		intStart++
	}
	for fracEnd > fracStart && s[fracEnd-1] == '0' {
		fracEnd--
	}
	switch {
	case intStart == intEnd && fracStart == fracEnd:
		return "0", nil
	case intStart == intEnd: // ".5" has no integer digit to keep
		return buildDecimal(neg, "", s[fracStart:fracEnd], a), nil
	}
	end := intEnd
	if fracEnd > fracStart {
		end = fracEnd
	}
	if !neg {
		return s[intStart:end], nil
	}
	if intStart > 0 && s[intStart-1] == '-' {
		return s[intStart-1 : end], nil
	}
	return buildDecimal(true, s[intStart:intEnd], s[fracStart:fracEnd], a), nil
}

// buildDecimal writes [-]int[.frac] to the arena; int and frac are already trimmed.
func buildDecimal(neg bool, intDigits, frac string, a *arena) string {
	a.grow(len(intDigits) + len(frac) + 3)
	m := a.mark()
	if neg {
		a.buf = append(a.buf, '-')
	}
	if intDigits == "" {
		a.buf = append(a.buf, '0')
	}
	a.buf = append(a.buf, intDigits...)
	if frac != "" {
		a.buf = append(a.buf, '.')
		a.buf = append(a.buf, frac...)
	}
	return a.since(m)
}

// shiftDecimal places the decimal point point digits into the digit string ds (point may be
// negative or beyond the digits) and returns the canonical text.
func shiftDecimal(neg bool, ds string, point int, a *arena) string {
	lead := 0
	for lead < len(ds) && ds[lead] == '0' {
		lead++
	}
	ds, point = ds[lead:], point-lead
	for len(ds) > 0 && ds[len(ds)-1] == '0' {
		ds = ds[:len(ds)-1]
	}
	if ds == "" {
		return "0"
	}
	a.grow(len(ds) + abs(point) + 3)
	m := a.mark()
	if neg {
		a.buf = append(a.buf, '-')
	}
	switch {
	case point <= 0:
		a.buf = append(a.buf, "0."...)
		for range -point {
			a.buf = append(a.buf, '0')
		}
		a.buf = append(a.buf, ds...)
	case point >= len(ds):
		a.buf = append(a.buf, ds...)
		for range point - len(ds) {
			a.buf = append(a.buf, '0')
		}
	default:
		a.buf = append(a.buf, ds[:point]...)
		a.buf = append(a.buf, '.')
		a.buf = append(a.buf, ds[point:]...)
	}
	return a.since(m)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// floatDecimal turns a float of the given bit size (a double in decimal.handling.mode=double)
// into the shortest decimal text that reads back as the same float.
func floatDecimal(f float64, bitSize int, a *arena) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("%v is not a decimal number", f)
	}
	if f == 0 {
		return "0", nil
	}
	a.grow(32)
	m := a.mark()
	a.buf = strconv.AppendFloat(a.buf, f, 'f', -1, bitSize)
	return a.since(m), nil
}

// unscaledDecimal turns big-endian two's-complement bytes and a scale (Kafka Connect's Decimal and
// Debezium's VariableScaleDecimal) into decimal text.
func unscaledDecimal(b []byte, scale int, a *arena) (string, error) {
	if scale > 1000 || scale < -1000 {
		return "", fmt.Errorf("scale %d out of range", scale)
	}
	a.grow(len(b)*3 + 8)
	m := a.mark()
	if len(b) <= 8 {
		var v int64
		if len(b) > 0 && b[0]&0x80 != 0 {
			v = -1
		}
		for _, c := range b {
			v = v<<8 | int64(c)
		}
		a.buf = strconv.AppendInt(a.buf, v, 10)
	} else {
		n := new(big.Int).SetBytes(b)
		if b[0]&0x80 != 0 {
			n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
		}
		a.buf = n.Append(a.buf, 10)
	}
	digits := a.since(m)
	neg := len(digits) > 0 && digits[0] == '-'
	if neg {
		digits = digits[1:]
	}
	return shiftDecimal(neg, digits, len(digits)-scale, a), nil
}

// decodeBase64 decodes standard base64 (what the JSON converter writes for BYTES) into the arena.
func decodeBase64(s string, a *arena) ([]byte, error) {
	a.grow(base64.StdEncoding.DecodedLen(len(s)))
	m := a.mark()
	// AppendDecode only reads its input, so the string's bytes can be lent without a copy.
	out, err := base64.StdEncoding.AppendDecode(a.buf, unsafe.Slice(unsafe.StringData(s), len(s)))
	if err != nil {
		return nil, fmt.Errorf("invalid base64: %w", err)
	}
	a.buf = out
	return a.buf[m:len(a.buf):len(a.buf)], nil
}

// parseInstant reads an ISO-8601 instant with offset (io.debezium.time.ZonedTimestamp) as Unix
// microseconds. The UTC form Debezium writes is read directly; any other goes through time.Parse.
func parseInstant(s string) (int64, error) {
	if us, ok := utcInstant(s); ok {
		return us, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("not an ISO-8601 timestamp: %q", s)
	}
	return t.UnixMicro(), nil
}

// utcInstant reads YYYY-MM-DDTHH:MM:SS[.fraction]Z, digits beyond microseconds truncated.
func utcInstant(s string) (int64, bool) {
	n := len(s)
	if n < 20 || s[n-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	year, ok1 := atoiDigits(s[0:4])
	month, ok2 := atoiDigits(s[5:7])
	day, ok3 := atoiDigits(s[8:10])
	hour, ok4 := atoiDigits(s[11:13])
	minute, ok5 := atoiDigits(s[14:16])
	sec, ok6 := atoiDigits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	var us int64
	if n > 20 {
		frac := s[20 : n-1]
		if s[19] != '.' || len(frac) == 0 || len(frac) > 9 {
			return 0, false
		}
		for i := range 6 {
			d := int64(0)
			if i < len(frac) {
				if frac[i] < '0' || frac[i] > '9' {
					return 0, false
				}
				d = int64(frac[i] - '0')
			}
			us = us*10 + d
		}
		if _, ok := atoiDigits(frac); !ok {
			return 0, false
		}
	}
	secs := ((daysFromCivil(year, month, day)*24+hour)*60+minute)*60 + sec
	return secs*1_000_000 + us, true
}

func atoiDigits(s string) (int64, bool) {
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

func daysIn(month, year int64) int64 {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian date
// (H. Hinnant, "chrono-compatible low-level date algorithms").
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// parseDate reads YYYY-MM-DD as days since the epoch.
func parseDate(s string) (int64, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("not a date: %q", s)
	}
	return t.Unix() / 86400, nil
}

// floorDiv divides rounding toward negative infinity, so instants before 1970 stay exact.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// textValue reads a string value of a column as o says; the JSON and Avro readers share it.
func textValue(o op, scale int, s string, a *arena) (Value, error) {
	if s == Placeholder {
		return UnavailableValue(), nil
	}
	switch o {
	case opText, opAny:
		return StringValue(s), nil
	case opBytes:
		if s == placeholderBase64 {
			return UnavailableValue(), nil
		}
		return StringValue(s), nil
	case opJSON:
		if !validJSON(s) {
			return Value{}, errors.New("jsonb value is not valid JSON")
		}
		return JSONValue(s), nil
	case opNumeric:
		return decimalText(s, a)
	case opDecimalBytes:
		if s == placeholderBase64 {
			return UnavailableValue(), nil
		}
		raw, err := decodeBase64(s, a)
		if err != nil {
			return Value{}, err
		}
		text, err := unscaledDecimal(raw, scale, a)
		return DecimalValue(text), err
	case opTimestamp:
		us, err := parseInstant(s)
		return MicrosValue(us), err
	case opDate:
		days, err := parseDate(s)
		return DateValue(days), err
	}
	return Value{}, fmt.Errorf("unexpected string %q", s)
}

// decimalText reads a numeric column's string: decimal text in string mode, or base64 bytes
// in precise mode, whose scale a schemaless record does not carry.
func decimalText(s string, a *arena) (Value, error) {
	if s == placeholderBase64 {
		return UnavailableValue(), nil
	}
	text, err := canonicalDecimal(s, a)
	if err == nil {
		return DecimalValue(text), nil
	}
	if _, b64 := decodeBase64(s, a); b64 == nil {
		return Value{}, errBase64Num
	}
	return Value{}, fmt.Errorf("%w: %q", errNotDecimal, s)
}
