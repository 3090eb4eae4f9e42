package schemas

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Layouts of times in JSON: ISO-8601 with an offset, as Open Loyalty writes them.
const (
	TimestampLayout = "2006-01-02T15:04:05.999999-07:00"
	DateLayout      = "2006-01-02"
)

// AppendJSON appends the HTTP body a subscriber receives for e: Open Loyalty's webhook
// envelope {"messageId","requestId","eventName","storeCode","createdAt","data"}, keys in that
// order and data's fields in the order of the trigger's schema, so the same event always
// renders to the same bytes. requestId is left out when empty. Decimals are JSON numbers
// written exactly (12.5, 100, -0.25), times are in UTC with a +00:00 offset, dates are
// 2006-01-02. It refuses what Append refuses, with the same errors, and then appends nothing.
func (c *Codec) AppendJSON(dst []byte, e *Event, requestID string) ([]byte, error) {
	tr, err := c.trigger(e)
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, `{"messageId":`...)
	dst = appendJSONString(dst, e.MessageID)
	if requestID != "" {
		dst = append(dst, `,"requestId":`...)
		dst = appendJSONString(dst, requestID)
	}
	dst = append(dst, `,"eventName":`...)
	dst = appendJSONString(dst, e.EventName)
	dst = append(dst, `,"storeCode":`...)
	if e.StoreCode == "" {
		dst = append(dst, "null"...)
	} else {
		dst = appendJSONString(dst, e.StoreCode)
	}
	dst = append(dst, `,"createdAt":`...)
	dst = appendJSONTime(dst, e.CreatedAt.Truncate(time.Millisecond), TimestampLayout)
	dst = append(dst, `,"data":`...)
	if dst, err = tr.typ.appendJSONRecord(dst, e.Data); err != nil {
		return dst[:start], atField("data", atField(e.EventName, err))
	}
	return append(dst, '}'), nil
}

// AppendSourceJSON appends where an event came from as a JSON object, for tools that show
// records of the webhook topic: {"topic","partition","offset","table","op","lsn","txId"},
// lsn and txId null when 0.
func AppendSourceJSON(dst []byte, s Source) []byte {
	dst = append(dst, `{"topic":`...)
	dst = appendJSONString(dst, s.Topic)
	dst = append(dst, `,"partition":`...)
	dst = strconv.AppendInt(dst, int64(s.Partition), 10)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, s.Offset, 10)
	dst = append(dst, `,"table":`...)
	dst = appendJSONString(dst, s.Table)
	dst = append(dst, `,"op":`...)
	dst = appendJSONString(dst, s.Op)
	dst = append(dst, `,"lsn":`...)
	dst = appendJSONOptionalInt(dst, s.LSN)
	dst = append(dst, `,"txId":`...)
	dst = appendJSONOptionalInt(dst, s.TxID)
	return append(dst, '}')
}

func (t *avroType) appendJSON(dst []byte, v any) ([]byte, error) {
	switch t.kind {
	case kindNull:
		if !isNull(v) {
			return dst, t.mismatch(v)
		}
		return append(dst, "null"...), nil
	case kindBoolean:
		b, ok := v.(bool)
		if !ok {
			return dst, t.mismatch(v)
		}
		return strconv.AppendBool(dst, b), nil
	case kindInt, kindLong:
		n, err := t.integer(v)
		if err != nil {
			return dst, err
		}
		return strconv.AppendInt(dst, n, 10), nil
	case kindString, kindUUID, kindEnum:
		s, _, err := t.text(v)
		if err != nil {
			return dst, err
		}
		return appendJSONString(dst, s), nil
	case kindDecimal:
		u, err := t.decimal(v)
		if err != nil {
			return dst, err
		}
		return appendDecimalText(dst, u, t.scale), nil
	case kindTimestampMillis, kindTimestampMicros, kindDate:
		tm, err := t.time(v)
		if err != nil {
			return dst, err
		}
		switch t.kind {
		case kindTimestampMillis:
			return appendJSONTime(dst, tm.Truncate(time.Millisecond), TimestampLayout), nil
		case kindTimestampMicros:
			return appendJSONTime(dst, tm, TimestampLayout), nil
		}
		return appendJSONTime(dst, tm, DateLayout), nil
	case kindRecord:
		m, ok := v.(map[string]any)
		if !ok {
			return dst, t.mismatch(v)
		}
		return t.appendJSONRecord(dst, m)
	case kindArray:
		return t.appendJSONArray(dst, v)
	}
	if t.null < 0 {
		return dst, errUnionWithoutNull
	}
	if isNull(v) {
		return append(dst, "null"...), nil
	}
	some, _ := t.some()
	return some.appendJSON(dst, v)
}

func (t *avroType) appendJSONRecord(dst []byte, m map[string]any) ([]byte, error) {
	dst = append(dst, '{')
	seen := 0
	for i := range t.fields {
		f := &t.fields[i]
		v, ok := m[f.name]
		if ok {
			seen++
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, f.jsonKey...)
		var err error
		if dst, err = f.typ.appendJSON(dst, v); err != nil {
			return dst, atField(f.name, err)
		}
	}
	if seen != len(m) {
		return dst, t.unknownField(m)
	}
	return append(dst, '}'), nil
}

func (t *avroType) appendJSONArray(dst []byte, v any) ([]byte, error) {
	a, ok := v.([]any)
	if !ok {
		return dst, t.mismatch(v)
	}
	dst = append(dst, '[')
	for i, x := range a {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = t.items.appendJSON(dst, x); err != nil {
			return dst, atIndex(i, err)
		}
	}
	return append(dst, ']'), nil
}

// appendJSONTime writes a timestamp in UTC, or the calendar date of a date, as a string.
func appendJSONTime(dst []byte, tm time.Time, layout string) []byte {
	if layout != DateLayout {
		tm = tm.UTC()
	}
	dst = append(dst, '"')
	dst = tm.AppendFormat(dst, layout)
	return append(dst, '"')
}

func appendJSONOptionalInt(dst []byte, n int64) []byte {
	if n == 0 {
		return append(dst, "null"...)
	}
	return strconv.AppendInt(dst, n, 10)
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD, and U+2028 and
// U+2029 are escaped so the output is also valid JavaScript.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
