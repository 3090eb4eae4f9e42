package schemas

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"math/bits"
)

// Append appends the Avro binary encoding of e (without any framing) to dst. Nothing is
// appended when e does not fit the schema; the error is then a *FieldError naming the value.
func (c *Codec) Append(dst []byte, e *Event) ([]byte, error) {
	start := len(dst)
	dst, err := c.appendEvent(dst, e)
	if err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// appendEvent writes the envelope field by field, in the order checkEnvelope holds
// webhook_event.avsc to, so an event costs no map of its own.
func (c *Codec) appendEvent(dst []byte, e *Event) ([]byte, error) {
	tr, err := c.trigger(e)
	if err != nil {
		return dst, err
	}
	dst = appendString(dst, e.MessageID)
	dst = appendString(dst, e.EventName)
	if e.StoreCode == "" {
		dst = appendLong(dst, 0)
	} else {
		dst = appendString(appendLong(dst, 1), e.StoreCode)
	}
	dst = appendLong(dst, e.CreatedAt.UnixMilli())
	dst = appendLong(dst, int64(tr.index))
	if dst, err = tr.typ.appendRecord(dst, e.Data); err != nil {
		return dst, atField("data", atField(e.EventName, err))
	}
	s := &e.Source
	dst = appendString(dst, s.Topic)
	dst = appendLong(dst, int64(s.Partition))
	dst = appendLong(dst, s.Offset)
	dst = appendString(dst, s.Table)
	dst = appendString(dst, s.Op)
	dst = appendOptionalLong(dst, s.LSN)
	return appendOptionalLong(dst, s.TxID), nil
}

// trigger checks the envelope fields of e and returns the data branch of its event name.
func (c *Codec) trigger(e *Event) (trigger, error) {
	tr, ok := c.triggers[e.EventName]
	if !ok {
		return tr, &FieldError{Path: "eventName", Err: fmt.Errorf("%q is %w", e.EventName, errNoTrigger)}
	}
	if err := checkUUID(e.MessageID); err != nil {
		return tr, &FieldError{Path: "messageId", Err: err}
	}
	if e.CreatedAt.IsZero() {
		return tr, &FieldError{Path: "createdAt", Err: errors.New("not set")}
	}
	return tr, nil
}

func (t *avroType) appendBinary(dst []byte, v any) ([]byte, error) {
	switch t.kind {
	case kindNull:
		if !isNull(v) {
			return dst, t.mismatch(v)
		}
		return dst, nil
	case kindBoolean:
		b, ok := v.(bool)
		if !ok {
			return dst, t.mismatch(v)
		}
		if b {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case kindInt, kindLong:
		n, err := t.integer(v)
		if err != nil {
			return dst, err
		}
		return appendLong(dst, n), nil
	case kindString, kindUUID, kindEnum:
		s, i, err := t.text(v)
		if err != nil {
			return dst, err
		}
		if t.kind == kindEnum {
			return appendLong(dst, int64(i)), nil
		}
		return appendString(dst, s), nil
	case kindDecimal:
		u, err := t.decimal(v)
		if err != nil {
			return dst, err
		}
		return appendDecimal(dst, u), nil
	case kindTimestampMillis, kindTimestampMicros, kindDate:
		tm, err := t.time(v)
		if err != nil {
			return dst, err
		}
		switch t.kind {
		case kindTimestampMillis:
			return appendLong(dst, tm.UnixMilli()), nil
		case kindTimestampMicros:
			return appendLong(dst, tm.UnixMicro()), nil
		}
		return appendLong(dst, days(tm)), nil
	case kindRecord:
		m, ok := v.(map[string]any)
		if !ok {
			return dst, t.mismatch(v)
		}
		return t.appendRecord(dst, m)
	case kindArray:
		return t.appendArray(dst, v)
	}
	return t.appendUnion(dst, v)
}

func (t *avroType) appendRecord(dst []byte, m map[string]any) ([]byte, error) {
	seen := 0
	for i := range t.fields {
		f := &t.fields[i]
		v, ok := m[f.name]
		if ok {
			seen++
		}
		var err error
		if dst, err = f.typ.appendBinary(dst, v); err != nil {
			return dst, atField(f.name, err)
		}
	}
	if seen != len(m) {
		return dst, t.unknownField(m)
	}
	return dst, nil
}

func (t *avroType) appendArray(dst []byte, v any) ([]byte, error) {
	a, ok := v.([]any)
	if !ok {
		return dst, t.mismatch(v)
	}
	if len(a) > 0 { // one block holding every item, then the empty block that ends the array
		dst = appendLong(dst, int64(len(a)))
		for i, x := range a {
			var err error
			if dst, err = t.items.appendBinary(dst, x); err != nil {
				return dst, atIndex(i, err)
			}
		}
	}
	return append(dst, 0), nil
}

func (t *avroType) appendUnion(dst []byte, v any) ([]byte, error) {
	if t.null < 0 {
		return dst, errUnionWithoutNull
	}
	if isNull(v) {
		return appendLong(dst, int64(t.null)), nil
	}
	some, i := t.some()
	return some.appendBinary(appendLong(dst, int64(i)), v)
}

// isNull tells null values: nil, and a nil *big.Rat, the one plain type that is a pointer.
func isNull(v any) bool {
	r, ok := v.(*big.Rat)
	return v == nil || ok && r == nil
}

// appendLong writes an Avro int or long: zig-zag, then a varint.
func appendLong(dst []byte, n int64) []byte { return binary.AppendVarint(dst, n) }

func appendString(dst []byte, s string) []byte {
	return append(appendLong(dst, int64(len(s))), s...)
}

// appendOptionalLong writes a ["null", "long"] value, 0 standing for null.
func appendOptionalLong(dst []byte, n int64) []byte {
	if n == 0 {
		return appendLong(dst, 0)
	}
	return appendLong(appendLong(dst, 1), n)
}

// appendDecimal writes the bytes of a decimal: its unscaled value in big-endian two's
// complement, in as few bytes as hold the sign.
func appendDecimal(dst []byte, u unscaled) []byte {
	if u.large != nil {
		mag := u.large
		if mag.Sign() < 0 {
			mag = new(big.Int).Not(mag) // -n-1: its bits are those of n inverted
		}
		b := mag.FillBytes(make([]byte, mag.BitLen()/8+1))
		if u.large.Sign() < 0 {
			for i := range b {
				b[i] = ^b[i]
			}
		}
		return append(appendLong(dst, int64(len(b))), b...)
	}
	mag := u.small
	if mag < 0 {
		mag = ^mag
	}
	size := bits.Len64(uint64(mag))/8 + 1
	dst = appendLong(dst, int64(size))
	for i := size - 1; i >= 0; i-- {
		dst = append(dst, byte(u.small>>(8*i)))
	}
	return dst
}
