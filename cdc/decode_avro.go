package cdc

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/twmb/franz-go/pkg/sr"
)

var errAvroShort = errors.New("avro data ends early")

// avroDecoder reads one Avro record. Strings are cut from base, one copy of the record.
type avroDecoder struct {
	b    []byte
	i    int
	base string
	text *arena // the block's: shared with the record's other part (value or key)
	blk  *block
}

func newAvroDecoder(b []byte, blk *block) *avroDecoder {
	return &avroDecoder{b: b, base: blk.text.keep(b, blk.spare), text: &blk.text, blk: blk}
}

func (d *avroDecoder) long() (int64, error) {
	var u uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if d.i >= len(d.b) {
			return 0, errAvroShort
		}
		c := d.b[d.i]
		d.i++
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, errors.New("avro varint too long")
}

// span reads the length of bytes or a string and returns its extent.
func (d *avroDecoder) span() (int, int, error) {
	n, err := d.long()
	if err != nil {
		return 0, 0, err
	}
	if n < 0 || n > int64(len(d.b)-d.i) {
		return 0, 0, errAvroShort
	}
	start := d.i
	d.i += int(n)
	return start, d.i, nil
}

func (d *avroDecoder) fixed(n int) (int, int, error) {
	if n > len(d.b)-d.i {
		return 0, 0, errAvroShort
	}
	start := d.i
	d.i += n
	return start, d.i, nil
}

// branch reads a union's branch index.
func (d *avroDecoder) branch(t *avroType) (int, error) {
	n, err := d.long()
	if err != nil {
		return 0, err
	}
	if n < 0 || n >= int64(len(t.branches)) {
		return 0, fmt.Errorf("union branch %d out of range", n)
	}
	return int(n), nil
}

// resolve reads through a union to the branch written.
func (d *avroDecoder) resolve(t *avroType) (*avroType, error) {
	if t.kind != avroUnion {
		return t, nil
	}
	i, err := d.branch(t)
	if err != nil {
		return nil, err
	}
	return t.branches[i], nil
}

func (d *avroDecoder) skip(t *avroType) error {
	var err error
	switch t.kind {
	case avroNull:
	case avroBoolean:
		_, _, err = d.fixed(1)
	case avroInt, avroLong, avroEnum:
		_, err = d.long()
	case avroFloat:
		_, _, err = d.fixed(4)
	case avroDouble:
		_, _, err = d.fixed(8)
	case avroBytes, avroString:
		_, _, err = d.span()
	case avroFixed:
		_, _, err = d.fixed(t.size)
	case avroRecord:
		for _, f := range t.fields {
			if err = d.skip(f.typ); err != nil {
				return err
			}
		}
	case avroUnion:
		var b *avroType
		if b, err = d.resolve(t); err == nil {
			err = d.skip(b)
		}
	case avroArray, avroMap:
		err = d.blocks(t, func() error {
			if t.kind == avroMap {
				if _, _, err := d.span(); err != nil {
					return err
				}
			}
			return d.skip(t.items)
		})
	}
	return err
}

// blocks reads the blocks of an array or map, calling item for every element.
func (d *avroDecoder) blocks(t *avroType, item func() error) error {
	for {
		n, err := d.long()
		if err != nil || n == 0 {
			return err
		}
		if n < 0 {
			n = -n
			if _, err := d.long(); err != nil { // block size in bytes
				return err
			}
		}
		// Every element takes at least a byte (arrays of plain nulls, which Debezium never
		// writes, are refused too), so a count beyond the data left is corrupt, not a long loop.
		if n > int64(len(d.b)-d.i) {
			return errAvroShort
		}
		for range n {
			if err := item(); err != nil {
				return err
			}
		}
	}
}

func (d *Decoder) decodeAvroValue(ctx context.Context, value []byte, t *tableInfo, blk *block) error {
	id, payload, err := (&sr.ConfluentHeader{}).DecodeID(value)
	if err != nil {
		return faultf(ReasonUndecodable, "not in the Confluent wire format")
	}
	plan, err := d.avroPlan(ctx, t, id, false)
	if err != nil {
		return err
	}
	ad := newAvroDecoder(payload, blk)
	if err := ad.envelope(plan); err != nil {
		if errors.Is(err, errNoOp) {
			return err
		}
		var f *fault
		if errors.As(err, &f) {
			return f
		}
		return faultf(ReasonUndecodable, "Avro with schema id %d: %v", id, err)
	}
	return nil
}

func (d *Decoder) decodeAvroKey(ctx context.Context, key []byte, t *tableInfo, blk *block) (*Row, error) {
	id, payload, err := (&sr.ConfluentHeader{}).DecodeID(key)
	if err != nil {
		return nil, faultf(ReasonUndecodable, "key is not in the Confluent wire format")
	}
	plan, err := d.avroPlan(ctx, t, id, true)
	if err != nil {
		return nil, err
	}
	ad := newAvroDecoder(payload, blk)
	row := &blk.key
	if err := ad.row(plan.key, row); err != nil {
		var f *fault
		if errors.As(err, &f) {
			return nil, f
		}
		return nil, faultf(ReasonUndecodable, "Avro key with schema id %d: %v", id, err)
	}
	if ad.i != len(ad.b) {
		return nil, faultf(ReasonUndecodable, "Avro key with schema id %d: trailing bytes", id)
	}
	return row, nil
}

func (d *avroDecoder) envelope(plan *avroPlan) error {
	ch := &d.blk.ch
	hasOp := false
	for i, f := range plan.top.fields {
		var err error
		switch plan.roles[i] {
		case roleBefore:
			ch.Before, err = d.image(f.typ, plan.image, &d.blk.before)
		case roleAfter:
			ch.After, err = d.image(f.typ, plan.image, &d.blk.after)
		case roleSource:
			err = d.source(f.typ, plan.source, &ch.Source)
		case roleOp:
			var s string
			if s, hasOp, err = d.str(f.typ); err == nil && hasOp {
				ch.Op, err = parseOp(s)
			}
		case roleTsMs:
			ch.TsMs, err = d.int(f.typ)
		case roleMessage:
			err = d.message(f.typ, ch)
		default:
			err = d.skip(f.typ)
		}
		if err != nil {
			return err
		}
	}
	if d.i != len(d.b) {
		return errors.New("trailing bytes")
	}
	if !hasOp {
		return errNoOp
	}
	return nil
}

func (d *avroDecoder) image(t *avroType, plan *avroRowPlan, row *Row) (*Row, error) {
	b, err := d.resolve(t)
	if err != nil || b.kind == avroNull {
		return nil, err
	}
	if b != plan.rec {
		return nil, fmt.Errorf("row of type %s, want %s", b.name, plan.rec.name)
	}
	return row, d.row(plan, row)
}

func (d *avroDecoder) row(plan *avroRowPlan, row *Row) error {
	row.Columns = d.blk.columns(len(plan.cols))
	for i := range plan.cols {
		c := &plan.cols[i]
		conv := &c.convs[0]
		if c.typ.kind == avroUnion {
			b, err := d.branch(c.typ)
			if err != nil {
				return err
			}
			conv = &c.convs[b]
		}
		v, err := d.value(conv.typ, conv.op)
		if err != nil {
			if errors.Is(err, errAvroShort) {
				return err
			}
			return badValue(c.name, err)
		}
		row.Columns = append(row.Columns, Column{Name: c.name, Value: v})
	}
	return nil
}

// str reads an optional string field; ok is false for null.
func (d *avroDecoder) str(t *avroType) (s string, ok bool, err error) {
	b, err := d.resolve(t)
	if err != nil || b.kind == avroNull {
		return "", false, err
	}
	switch b.kind {
	case avroString, avroBytes:
		start, end, err := d.span()
		return d.base[start:end], true, err
	case avroEnum:
		n, err := d.long()
		if err != nil || n < 0 || n >= int64(len(b.symbols)) {
			return "", false, errors.New("enum symbol out of range")
		}
		return b.symbols[n], true, nil
	}
	return "", false, fmt.Errorf("unexpected Avro %d for a string field", b.kind)
}

// int reads an optional integer field; null reads as 0.
func (d *avroDecoder) int(t *avroType) (int64, error) {
	b, err := d.resolve(t)
	if err != nil || b.kind == avroNull {
		return 0, err
	}
	if b.kind != avroInt && b.kind != avroLong {
		return 0, fmt.Errorf("unexpected Avro %d for an integer field", b.kind)
	}
	return d.long()
}

func (d *avroDecoder) source(t *avroType, roles []role, src *Source) error {
	rec, err := d.resolve(t)
	if err != nil || rec.kind == avroNull {
		return err
	}
	for i, f := range rec.fields {
		switch roles[i] {
		case roleSourceTsMs:
			src.TsMs, err = d.int(f.typ)
		case roleTxID:
			src.TxID, err = d.int(f.typ)
		case roleLSN:
			src.LSN, err = d.int(f.typ)
		case roleSnapshot:
			src.Snapshot, err = d.snapshot(f.typ)
		case roleDB:
			src.DB, _, err = d.str(f.typ)
		case roleSchema:
			src.Schema, _, err = d.str(f.typ)
		case roleTable:
			src.Table, _, err = d.str(f.typ)
		default:
			err = d.skip(f.typ)
		}
		if err != nil {
			return fmt.Errorf("source.%s: %w", f.name, err)
		}
	}
	return nil
}

func (d *avroDecoder) snapshot(t *avroType) (string, error) {
	b, err := d.resolve(t)
	if err != nil || b.kind == avroNull {
		return "", err
	}
	if b.kind == avroBoolean {
		start, _, err := d.fixed(1)
		return snapshotBool(err == nil && d.b[start] != 0), err
	}
	s, _, err := d.str(b)
	return s, err
}

func (d *avroDecoder) message(t *avroType, ch *Change) error {
	rec, err := d.resolve(t)
	if err != nil || rec.kind == avroNull {
		return err
	}
	msg := &d.blk.msg
	for _, f := range rec.fields {
		switch f.name {
		case "prefix":
			msg.Prefix, _, err = d.str(f.typ)
		case "content":
			err = d.content(f.typ, msg)
		default:
			err = d.skip(f.typ)
		}
		if err != nil {
			return fmt.Errorf("message.%s: %w", f.name, err)
		}
	}
	ch.Message = msg
	return nil
}

// content reads the message content: bytes by default, base64 text under binary.handling.mode.
func (d *avroDecoder) content(t *avroType, msg *Message) error {
	b, err := d.resolve(t)
	if err != nil || b.kind == avroNull {
		return err
	}
	start, end, err := d.span()
	if err != nil {
		return err
	}
	if b.kind == avroBytes {
		msg.Content = d.b[start:end:end]
		return nil
	}
	msg.Content, err = decodeBase64(d.base[start:end], d.text)
	return err
}

// value reads a value of type t (not a union) as o says.
func (d *avroDecoder) value(t *avroType, o op) (Value, error) {
	switch t.kind {
	case avroNull:
		return Value{}, nil
	case avroBoolean:
		start, _, err := d.fixed(1)
		if err != nil {
			return Value{}, err
		}
		if o != opBool && o != opAny {
			return Value{}, errors.New("unexpected boolean")
		}
		return BoolValue(d.b[start] != 0), nil
	case avroInt, avroLong:
		n, err := d.long()
		if err != nil {
			return Value{}, err
		}
		return intValue(o, n)
	case avroFloat, avroDouble:
		return d.float(t)
	case avroString:
		start, end, err := d.span()
		if err != nil {
			return Value{}, err
		}
		return textValue(o, t.scale, d.base[start:end], d.text)
	case avroBytes, avroFixed:
		return d.bytesValue(t, o)
	case avroEnum:
		s, _, err := d.str(t)
		return StringValue(s), err
	case avroRecord:
		if t.semantic() == nameVariableScaleDecimal {
			return d.variableScale(t)
		}
	}
	d.text.grow(64)
	m := d.text.mark()
	if err := d.appendJSON(t); err != nil {
		return Value{}, err
	}
	return JSONValue(d.text.since(m)), nil
}

func (d *avroDecoder) float(t *avroType) (Value, error) {
	var (
		f    float64
		bits = 64
	)
	if t.kind == avroFloat {
		start, _, err := d.fixed(4)
		if err != nil {
			return Value{}, err
		}
		f, bits = float64(math.Float32frombits(binary.LittleEndian.Uint32(d.b[start:]))), 32
	} else {
		start, _, err := d.fixed(8)
		if err != nil {
			return Value{}, err
		}
		f = math.Float64frombits(binary.LittleEndian.Uint64(d.b[start:]))
	}
	text, err := floatDecimal(f, bits, d.text)
	return DecimalValue(text), err
}

func (d *avroDecoder) bytesValue(t *avroType, o op) (Value, error) {
	var start, end int
	var err error
	if t.kind == avroFixed {
		start, end, err = d.fixed(t.size)
	} else {
		start, end, err = d.span()
	}
	if err != nil {
		return Value{}, err
	}
	raw := d.b[start:end]
	if string(raw) == Placeholder {
		return UnavailableValue(), nil
	}
	switch o {
	case opDecimalBytes:
		text, err := unscaledDecimal(raw, t.scale, d.text)
		return DecimalValue(text), err
	case opNumeric:
		return Value{}, errors.New("numeric value is bytes without a scale")
	}
	d.text.grow(base64.StdEncoding.EncodedLen(len(raw)))
	m := d.text.mark()
	d.text.buf = base64.StdEncoding.AppendEncode(d.text.buf, raw)
	return StringValue(d.text.since(m)), nil
}

// variableScale reads io.debezium.data.VariableScaleDecimal: a record of scale and value.
func (d *avroDecoder) variableScale(t *avroType) (Value, error) {
	var (
		scale int64
		raw   []byte
		err   error
	)
	for _, f := range t.fields {
		switch f.name {
		case "scale":
			scale, err = d.int(f.typ)
		case "value":
			var start, end int
			if start, end, err = d.span(); err == nil {
				raw = d.b[start:end]
			}
		default:
			err = d.skip(f.typ)
		}
		if err != nil {
			return Value{}, err
		}
	}
	if string(raw) == Placeholder {
		return UnavailableValue(), nil
	}
	text, err := unscaledDecimal(raw, int(scale), d.text)
	return DecimalValue(text), err
}

// appendJSON renders a value of type t as JSON into the arena, for columns of types the
// reference schema does not use (arrays, maps, records).
func (d *avroDecoder) appendJSON(t *avroType) error {
	a := d.text
	switch t.kind {
	case avroNull:
		a.buf = append(a.buf, "null"...)
	case avroBoolean:
		start, _, err := d.fixed(1)
		if err != nil {
			return err
		}
		a.buf = strconv.AppendBool(a.buf, d.b[start] != 0)
	case avroInt, avroLong:
		n, err := d.long()
		if err != nil {
			return err
		}
		a.buf = strconv.AppendInt(a.buf, n, 10)
	case avroFloat, avroDouble:
		v, err := d.float(t)
		if err != nil {
			return err
		}
		a.buf = append(a.buf, v.Str...)
	case avroString, avroEnum:
		s, _, err := d.str(t)
		if err != nil {
			return err
		}
		a.buf = appendJSONString(a.buf, s)
	case avroBytes, avroFixed:
		v, err := d.bytesValue(t, opBytes)
		if err != nil {
			return err
		}
		a.buf = appendJSONString(a.buf, v.Str)
	case avroUnion:
		b, err := d.resolve(t)
		if err != nil {
			return err
		}
		return d.appendJSON(b)
	case avroRecord:
		a.buf = append(a.buf, '{')
		for i, f := range t.fields {
			if i > 0 {
				a.buf = append(a.buf, ',')
			}
			a.buf = appendJSONString(a.buf, f.name)
			a.buf = append(a.buf, ':')
			if err := d.appendJSON(f.typ); err != nil {
				return err
			}
		}
		a.buf = append(a.buf, '}')
	case avroArray, avroMap:
		open, close := byte('['), byte(']')
		if t.kind == avroMap {
			open, close = '{', '}'
		}
		a.buf = append(a.buf, open)
		n := 0
		err := d.blocks(t, func() error {
			if n > 0 {
				a.buf = append(a.buf, ',')
			}
			n++
			if t.kind == avroMap {
				start, end, err := d.span()
				if err != nil {
					return err
				}
				a.buf = append(appendJSONString(a.buf, d.base[start:end]), ':')
			}
			return d.appendJSON(t.items)
		})
		if err != nil {
			return err
		}
		a.buf = append(a.buf, close)
	}
	return nil
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
