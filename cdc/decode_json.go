package cdc

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// jsonDecoder reads one record written by Kafka Connect's JSON converter. Strings of the record
// are cut from base, a single copy of the part of the record that holds values.
type jsonDecoder struct {
	scanner
	base string
	off  int    // offset of base in the record
	text *arena // the block's: shared with the record's other part (value or key)
	blk  *block
	t    *tableInfo
}

func newJSONDecoder(b []byte, t *tableInfo, blk *block) jsonDecoder {
	return jsonDecoder{scanner: scanner{b: b}, text: &blk.text, blk: blk, t: t}
}

// keep copies the record from the cursor on; strings before it can no longer be cut.
func (d *jsonDecoder) keep() {
	d.off = d.i
	rest, spare := d.b[d.i:], d.blk.spare
	if e := bytes.IndexByte(rest, '\\'); e >= 0 {
		// Strings with escapes are unescaped into the arena. jsonb columns, JSON inside strings,
		// are escaped throughout: make room for half of what follows the first escape. Text
		// beyond the room goes on in a new buffer.
		spare += (len(rest) - e) / 2
	}
	d.base = d.text.keep(rest, spare)
}

// cut returns the text of a string token.
func (d *jsonDecoder) cut(sp span) (string, error) {
	if !sp.esc {
		return d.base[sp.start-d.off : sp.end-d.off], nil
	}
	d.text.grow(sp.end - sp.start) // unescaping only shortens valid text
	m := d.text.mark()
	var err error
	if d.text.buf, err = appendUnescaped(d.text.buf, d.b[sp.start:sp.end]); err != nil {
		return "", err
	}
	return d.text.since(m), nil
}

// syntax turns a scanning error into an undecodable fault; faults and errNoOp pass unchanged.
func syntax(err error) error {
	if err == nil || err == errNoOp {
		return err
	}
	var f *fault
	if errors.As(err, &f) {
		return err
	}
	return faultf(ReasonUndecodable, "not a JSON change event: %v", err)
}

func decodeJSONValue(b []byte, t *tableInfo, blk *block) error {
	d := newJSONDecoder(b, t, blk)
	plan, wrapped, err := unwrap(&d.scanner, &t.jsonValues, t, compileValuePlan)
	if err != nil {
		return syntax(err)
	}
	if !wrapped {
		d.i = 0
	}
	if d.null() {
		return errNoOp
	}
	d.keep()
	if err := d.envelope(plan); err != nil {
		return syntax(err)
	}
	return syntax(d.finish(wrapped))
}

func decodeJSONKey(b []byte, t *tableInfo, blk *block) (*Row, error) {
	d := newJSONDecoder(b, t, blk)
	plan, wrapped, err := unwrap(&d.scanner, &t.jsonKeys, t, compileKeyPlan)
	if err != nil {
		return nil, syntax(err)
	}
	if !wrapped {
		d.i = 0
	}
	if d.null() {
		return nil, syntax(d.finish(wrapped))
	}
	width := t.keyWidth
	if plan == nil {
		plan = &t.bare
	} else {
		width = len(plan.fields)
	}
	d.keep()
	row := &blk.key
	if err := d.row(plan, row, width); err != nil {
		return nil, syntax(err)
	}
	return row, syntax(d.finish(wrapped))
}

// unwrap tells {"schema": …, "payload": …} from a bare value. For the former it returns the plan
// of the schema (nil for a null schema) and leaves the cursor at the payload.
func unwrap[P any](s *scanner, cache *schemaCache[P], t *tableInfo, compile func([]byte, *tableInfo) (P, error)) (plan P, wrapped bool, err error) {
	if !s.consume('{') {
		return plan, false, errSyntax
	}
	key, ok, err := s.member(true)
	if err != nil || !ok {
		return plan, false, err
	}
	switch string(s.b[key.start:key.end]) {
	case "schema":
		if plan, err = schemaAt(s, cache, t, compile); err != nil {
			return plan, false, err
		}
		if err := s.nextKey("payload"); err != nil {
			return plan, false, err
		}
		return plan, true, nil
	case "payload":
		s.ws()
		payload := s.i
		if err := s.skip(); err != nil {
			return plan, false, err
		}
		if err := s.nextKey("schema"); err != nil {
			return plan, false, err
		}
		if plan, err = schemaAt(s, cache, t, compile); err != nil {
			return plan, false, err
		}
		s.i = payload
		return plan, true, nil
	}
	return plan, false, nil
}

// nextKey consumes the next member's key, which must be want.
func (s *scanner) nextKey(want string) error {
	key, ok, err := s.member(false)
	if err == nil && (!ok || string(s.b[key.start:key.end]) != want) {
		err = fmt.Errorf("embedded schema without %s", want)
	}
	return err
}

// schemaAt reads the embedded schema at the cursor through the cache.
func schemaAt[P any](s *scanner, cache *schemaCache[P], t *tableInfo, compile func([]byte, *tableInfo) (P, error)) (plan P, err error) {
	if s.null() {
		return plan, nil
	}
	start := s.i
	if p, n, ok := cache.match(s.b[start:]); ok {
		s.i += n
		return p, nil
	}
	if err := s.skip(); err != nil {
		return plan, err
	}
	if plan, err = compile(s.b[start:s.i], t); err != nil {
		return plan, err
	}
	cache.store(s.b[start:s.i], plan)
	return plan, nil
}

// finish checks that nothing but the rest of the wrapper follows the decoded value.
func (d *jsonDecoder) finish(wrapped bool) error {
	if wrapped {
		for {
			key, ok, err := d.member(false)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			if string(d.b[key.start:key.end]) != "schema" {
				return fmt.Errorf("unexpected member %q", d.b[key.start:key.end])
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	}
	if !d.end() {
		return errors.New("trailing data after the value")
	}
	return nil
}

// envelope reads a Debezium envelope. plan is nil for a bare envelope.
func (d *jsonDecoder) envelope(plan *valuePlan) error {
	if !d.consume('{') {
		return errSyntax
	}
	before, after := &d.t.bare, &d.t.bare
	if plan != nil && plan.before != nil {
		before = plan.before
	}
	if plan != nil && plan.after != nil {
		after = plan.after
	}
	ch := &d.blk.ch
	hasOp := false
	for key, err := range d.members() {
		if err != nil {
			return err
		}
		switch string(d.b[key.start:key.end]) {
		case "before":
			ch.Before, err = d.image(before, &d.blk.before)
		case "after":
			ch.After, err = d.image(after, &d.blk.after)
		case "source":
			err = d.source(&ch.Source)
		case "op":
			hasOp = true
			err = d.op(ch)
		case "ts_ms":
			ch.TsMs, err = d.optInt("ts_ms")
		case "message":
			err = d.message(ch)
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
	if !hasOp {
		return errNoOp
	}
	return nil
}

// image reads a before or after row, nil when it is null.
func (d *jsonDecoder) image(plan *rowPlan, row *Row) (*Row, error) {
	if d.null() {
		return nil, nil
	}
	return row, d.row(plan, row, len(plan.fields))
}

func (d *jsonDecoder) op(ch *Change) error {
	if d.peek() != '"' {
		return badField("op", errors.New("not a string"))
	}
	sp, err := d.str()
	if err != nil {
		return err
	}
	ch.Op, err = parseOp(string(d.b[sp.start:sp.end]))
	return err
}

func (d *jsonDecoder) source(src *Source) error {
	if d.null() {
		return nil
	}
	if !d.consume('{') {
		return errSyntax
	}
	for key, err := range d.members() {
		if err != nil {
			return err
		}
		switch name := string(d.b[key.start:key.end]); name {
		case "ts_ms":
			src.TsMs, err = d.optInt("source.ts_ms")
		case "txId":
			src.TxID, err = d.optInt("source.txId")
		case "lsn":
			src.LSN, err = d.optInt("source.lsn")
		case "snapshot":
			src.Snapshot, err = d.snapshot()
		case "db":
			src.DB, err = d.optString("source.db")
		case "schema":
			src.Schema, err = d.optString("source.schema")
		case "table":
			src.Table, err = d.optString("source.table")
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *jsonDecoder) snapshot() (string, error) {
	switch d.peek() {
	case 't':
		return "true", d.need(d.literal("true"))
	case 'f':
		return "false", d.need(d.literal("false"))
	}
	return d.optString("source.snapshot")
}

// optInt reads an integer envelope field that may be null or, in older examples, a string.
func (d *jsonDecoder) optInt(name string) (int64, error) {
	switch d.peek() {
	case 'n':
		return 0, d.need(d.literal("null"))
	case '"':
		sp, err := d.str()
		if err != nil {
			return 0, err
		}
		return parseIntField(name, d.b[sp.start:sp.end])
	}
	start, end, _, err := d.number()
	if err != nil {
		return 0, err
	}
	return parseIntField(name, d.b[start:end])
}

func parseIntField(name string, b []byte) (int64, error) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, badField(name, fmt.Errorf("not an integer: %q", b))
	}
	return n, nil
}

func (d *jsonDecoder) optString(name string) (string, error) {
	if d.null() {
		return "", nil
	}
	if d.peek() != '"' {
		return "", badField(name, errors.New("not a string"))
	}
	sp, err := d.str()
	if err != nil {
		return "", err
	}
	return d.cut(sp)
}

func (d *jsonDecoder) message(ch *Change) error {
	if d.null() {
		return nil
	}
	if !d.consume('{') {
		return errSyntax
	}
	msg := &d.blk.msg
	for key, err := range d.members() {
		if err != nil {
			return err
		}
		switch string(d.b[key.start:key.end]) {
		case "prefix":
			msg.Prefix, err = d.optString("message.prefix")
		case "content":
			var s string
			if s, err = d.optString("message.content"); err == nil {
				msg.Content, err = decodeBase64(s, d.text)
				if err != nil {
					err = badField("message.content", err)
				}
			}
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
	ch.Message = msg
	return nil
}

// row reads the object at the cursor into row, which is expected to have width columns.
func (d *jsonDecoder) row(plan *rowPlan, row *Row, width int) error {
	if !d.consume('{') {
		return errSyntax
	}
	row.Columns = d.blk.columns(width)
	next := 0
	for key, err := range d.members() {
		if err != nil {
			return err
		}
		var f *field
		f, next = plan.find(d.b[key.start:key.end], next)
		name, o, scale := "", opAny, 0
		if f != nil {
			name, o, scale = f.name, f.op, f.scale
		} else if name, err = d.cut(key); err != nil {
			return err
		}
		v, err := d.value(o, scale)
		if err != nil {
			if errors.Is(err, errSyntax) {
				return err
			}
			return badValue(name, err)
		}
		row.Columns = append(row.Columns, Column{Name: name, Value: v})
	}
	return nil
}

// value reads the value at the cursor as o says.
func (d *jsonDecoder) value(o op, scale int) (Value, error) {
	switch c := d.peek(); c {
	case 'n':
		return Value{}, d.need(d.literal("null"))
	case '"':
		return d.stringValue(o, scale)
	case '{', '[':
		return d.structValue(o)
	case 't', 'f':
		if !d.literal("true") && !d.literal("false") {
			return Value{}, errSyntax
		}
		switch o {
		case opBool, opAny:
			return BoolValue(c == 't'), nil
		case opRaw, opJSON:
			return JSONValue(d.base[d.i-d.off-boolLen(c) : d.i-d.off]), nil
		}
		return Value{}, fmt.Errorf("unexpected boolean")
	default:
		return d.numberValue(o)
	}
}

func boolLen(c byte) int {
	if c == 't' {
		return 4
	}
	return 5
}

func (d *jsonDecoder) stringValue(o op, scale int) (Value, error) {
	start := d.i
	sp, err := d.str()
	if err != nil {
		return Value{}, err
	}
	if o == opRaw {
		return JSONValue(d.base[start-d.off : d.i-d.off]), nil
	}
	s, err := d.cut(sp)
	if err != nil {
		return Value{}, err
	}
	return textValue(o, scale, s, d.text)
}

func (d *jsonDecoder) structValue(o op) (Value, error) {
	start := d.i
	if o == opNumeric && d.b[d.i] == '{' {
		return d.variableScale()
	}
	if err := d.skip(); err != nil {
		return Value{}, err
	}
	switch o {
	case opJSON, opRaw, opAny:
		return JSONValue(d.base[start-d.off : d.i-d.off]), nil
	}
	return Value{}, errors.New("unexpected object or array")
}

// variableScale reads io.debezium.data.VariableScaleDecimal: {"scale": s, "value": base64}.
func (d *jsonDecoder) variableScale() (Value, error) {
	d.i++
	var (
		scale    int64
		value    string
		hasValue bool
	)
	for key, err := range d.members() {
		if err != nil {
			return Value{}, err
		}
		switch string(d.b[key.start:key.end]) {
		case "scale":
			scale, err = d.optInt("scale")
		case "value":
			value, err = d.optString("value")
			hasValue = true
		default:
			err = d.skip()
		}
		if err != nil {
			return Value{}, err
		}
	}
	if !hasValue {
		return Value{}, errors.New("VariableScaleDecimal without value")
	}
	if value == placeholderBase64 || value == Placeholder {
		return UnavailableValue(), nil
	}
	raw, err := decodeBase64(value, d.text)
	if err != nil {
		return Value{}, err
	}
	text, err := unscaledDecimal(raw, int(scale), d.text)
	return DecimalValue(text), err
}

func (d *jsonDecoder) numberValue(o op) (Value, error) {
	start, end, integer, err := d.number()
	if err != nil {
		return Value{}, err
	}
	lit := d.base[start-d.off : end-d.off]
	switch o {
	case opRaw, opJSON:
		return JSONValue(lit), nil
	case opText:
		return StringValue(lit), nil
	case opNumeric:
		if integer {
			text, err := canonicalDecimal(lit, d.text)
			return DecimalValue(text), err
		}
		return d.float(lit)
	case opAny:
		if !integer {
			return d.float(lit)
		}
	}
	if !integer {
		return Value{}, fmt.Errorf("%s is not an integer", lit)
	}
	n, err := strconv.ParseInt(lit, 10, 64)
	if err != nil {
		return Value{}, fmt.Errorf("integer %s out of range", lit)
	}
	return intValue(o, n)
}

func (d *jsonDecoder) float(lit string) (Value, error) {
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return Value{}, fmt.Errorf("number %s out of range", lit)
	}
	text, err := floatDecimal(f, 64, d.text)
	return DecimalValue(text), err
}

// intValue turns an integer read as o into a Value; shared by the JSON and Avro readers.
func intValue(o op, n int64) (Value, error) {
	switch o {
	case opInt, opAny:
		return IntValue(n), nil
	case opTimestamp:
		return MicrosValue(n), nil
	case opMillis:
		return MicrosValue(n * 1000), nil
	case opNanos:
		return MicrosValue(floorDiv(n, 1000)), nil
	case opDate:
		return DateValue(n), nil
	case opNumeric:
		return DecimalValue(strconv.FormatInt(n, 10)), nil
	}
	return Value{}, fmt.Errorf("unexpected number %d", n)
}
