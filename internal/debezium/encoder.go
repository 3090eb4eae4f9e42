package debezium

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
)

// Format is a Kafka Connect converter setup.
type Format int

const (
	JSON           Format = iota // JsonConverter, schemas.enable=false
	JSONWithSchema               // JsonConverter, schemas.enable=true
	Avro                         // AvroConverter with a Confluent Schema Registry
)

func (f Format) String() string {
	switch f {
	case JSON:
		return "json"
	case JSONWithSchema:
		return "json+schema"
	case Avro:
		return "avro"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Decimal handling modes of the connector (decimal.handling.mode).
const (
	DecimalString  = "string"
	DecimalDouble  = "double"
	DecimalPrecise = "precise"
)

// Version is the Debezium version the events claim in source.version.
const Version = "3.0.0.Final"

// Options configure an Encoder.
type Options struct {
	Format Format
	// DecimalMode is decimal.handling.mode: "string" (the default here, as CONTRACT recommends),
	// "double" or "precise" (VariableScaleDecimal, since the reference columns are unconstrained).
	DecimalMode string
	// Source names the topics, tables and columns (topic prefix, schema, mapping).
	Source config.Source
	// Registry is where Avro schemas are registered; required for Avro.
	Registry *sr.Client
}

// Encoder writes Debezium PostgreSQL change events. It is safe for concurrent use.
type Encoder struct {
	o       Options
	tables  map[string]*table // by logical name
	message *table            // logical decoding messages

	mu       sync.Mutex
	subjects map[string]*subject
}

// subject is a registered Avro schema and its codec.
type subject struct {
	id    int
	codec *goavro.Codec
}

// table is what the encoder derives from one reference table: physical names and the Connect
// schemas of its key and value.
type table struct {
	def      *cdc.TableDef
	topic    string
	physical string
	cols     []column
	keyCols  []column
	key      *connectSchema
	value    *connectSchema
	row      *connectSchema
	jsonKey  []byte // the key and value schemas as the JSON converter embeds them
	jsonVal  []byte
}

type column struct {
	logical, physical string
	typ               cdc.ColumnType
}

// NewEncoder prepares the schemas of every reference table.
func NewEncoder(o Options) (*Encoder, error) {
	switch o.DecimalMode {
	case "":
		o.DecimalMode = DecimalString
	case DecimalString, DecimalDouble, DecimalPrecise:
	default:
		return nil, fmt.Errorf("decimal mode %q: want string, double or precise", o.DecimalMode)
	}
	if o.Format == Avro && o.Registry == nil {
		return nil, errors.New("the Avro format needs a schema registry")
	}
	if o.Source.TopicPrefix == "" || o.Source.Schema == "" {
		return nil, errors.New("source.topicPrefix and source.schema must be set")
	}
	e := &Encoder{o: o, tables: map[string]*table{}, subjects: map[string]*subject{}}
	for i := range cdc.Reference {
		def := &cdc.Reference[i]
		e.tables[def.Name] = e.newTable(def)
	}
	e.message = e.newMessageTable()
	return e, nil
}

func (e *Encoder) newTable(def *cdc.TableDef) *table {
	src := e.o.Source
	t := &table{def: def, topic: src.Topic(def.Name), physical: src.PhysicalTable(def.Name)}
	mapping := src.Tables[def.Name]
	prefix := src.TopicPrefix + "." + src.Schema + "." + t.physical
	row := &connectSchema{typ: "struct", name: prefix + ".Value", optional: true}
	t.key = &connectSchema{typ: "struct", name: prefix + ".Key"}
	for _, c := range def.Columns {
		phys := c.Name
		if p := mapping.Columns[c.Name]; p != "" {
			phys = p
		}
		col := column{logical: c.Name, physical: phys, typ: c.Type}
		isKey := slices.Contains(def.Key, c.Name)
		row.fields = append(row.fields, field{phys, e.columnSchema(c.Type, !isKey)})
		t.cols = append(t.cols, col)
		if isKey {
			t.keyCols = append(t.keyCols, col)
			t.key.fields = append(t.key.fields, field{phys, e.columnSchema(c.Type, false)})
		}
	}
	t.row = row
	t.value = &connectSchema{typ: "struct", name: prefix + ".Envelope", version: 2, fields: []field{
		{"before", row},
		{"after", row},
		{"source", sourceSchema()},
		{"transaction", transactionSchema()},
		{"op", primitive("string", false)},
		{"ts_ms", primitive("int64", true)},
		{"ts_us", primitive("int64", true)},
		{"ts_ns", primitive("int64", true)},
	}}
	t.render()
	return t
}

func (e *Encoder) newMessageTable() *table {
	const ns = "io.debezium.connector.postgresql."
	t := &table{topic: e.o.Source.TopicPrefix + cdc.MessageTopicSuffix}
	t.key = &connectSchema{typ: "struct", name: ns + "MessageKey", version: 1,
		fields: []field{{"prefix", primitive("string", true)}}}
	t.value = &connectSchema{typ: "struct", name: ns + "MessageValue", version: 1, fields: []field{
		{"op", primitive("string", false)},
		{"ts_ms", primitive("int64", true)},
		{"source", sourceSchema()},
		{"message", &connectSchema{typ: "struct", name: ns + "Message", version: 1, fields: []field{
			{"prefix", primitive("string", true)},
			{"content", primitive("bytes", true)},
		}}},
	}}
	t.render()
	return t
}

func (t *table) render() {
	var w jsonWriter
	w.schema(t.key, "")
	t.jsonKey = w.b
	w = jsonWriter{}
	w.schema(t.value, "")
	t.jsonVal = w.b
}

func sourceSchema() *connectSchema {
	snapshot := semantic("string", nameEnum, true)
	snapshot.params = []param{{"allowed", "true,last,false,incremental"}}
	snapshot.def = "false"
	return &connectSchema{typ: "struct", name: "io.debezium.connector.postgresql.Source", fields: []field{
		{"version", primitive("string", false)},
		{"connector", primitive("string", false)},
		{"name", primitive("string", false)},
		{"ts_ms", primitive("int64", false)},
		{"snapshot", snapshot},
		{"db", primitive("string", false)},
		{"sequence", primitive("string", true)},
		{"ts_us", primitive("int64", true)},
		{"ts_ns", primitive("int64", true)},
		{"schema", primitive("string", false)},
		{"table", primitive("string", false)},
		{"txId", primitive("int64", true)},
		{"lsn", primitive("int64", true)},
		{"xmin", primitive("int64", true)},
	}}
}

func transactionSchema() *connectSchema {
	return &connectSchema{typ: "struct", name: "event.block", version: 1, optional: true, fields: []field{
		{"id", primitive("string", false)},
		{"total_order", primitive("int64", false)},
		{"data_collection_order", primitive("int64", false)},
	}}
}

// columnSchema is the Connect schema Debezium's PostgreSQL connector gives a column of type t.
func (e *Encoder) columnSchema(t cdc.ColumnType, optional bool) *connectSchema {
	switch t {
	case cdc.TypeUUID:
		return semantic("string", nameUUID, optional)
	case cdc.TypeInt:
		return primitive("int32", optional)
	case cdc.TypeBool:
		return primitive("boolean", optional)
	case cdc.TypeNumeric:
		switch e.o.DecimalMode {
		case DecimalDouble:
			return primitive("double", optional)
		case DecimalPrecise:
			return variableScaleDecimal(optional)
		}
		return primitive("string", optional)
	case cdc.TypeTimestamptz:
		return semantic("string", nameZonedTimestamp, optional)
	case cdc.TypeDate:
		return semantic("int32", nameDate, optional)
	case cdc.TypeJSONB:
		return semantic("string", nameJSON, optional)
	}
	return primitive("string", optional)
}

// Encode writes ch as Debezium would: the topic, the record key (nil for a truncate) and the
// record value. Rows are written with every column of the table, in table order; a column the
// row lacks is written as null. A Change without Key gets the key columns of its row image.
func (e *Encoder) Encode(ctx context.Context, ch *cdc.Change) (topic string, key, value []byte, err error) {
	t, err := e.table(ch)
	if err != nil {
		return "", nil, nil, err
	}
	var vals structValue
	if ch.Op == cdc.OpMessage {
		vals, err = e.messageValue(ch)
	} else {
		vals, err = e.envelopeValue(t, ch)
	}
	if err != nil {
		return "", nil, nil, fmt.Errorf("encode %s %s: %w", ch.Table, ch.Op, err)
	}
	if value, err = e.encode(ctx, t, false, vals); err != nil {
		return "", nil, nil, err
	}
	if ch.Op != cdc.OpTruncate {
		if key, err = e.key(ctx, t, ch); err != nil {
			return "", nil, nil, err
		}
	}
	return t.topic, key, value, nil
}

// Tombstone writes the tombstone Debezium sends after a delete: the topic and key of ch, whose
// record value is null. For Avro the key schema is registered with a background context.
func (e *Encoder) Tombstone(ch *cdc.Change) (topic string, key []byte, err error) {
	t, err := e.table(ch)
	if err != nil {
		return "", nil, err
	}
	key, err = e.key(context.Background(), t, ch)
	return t.topic, key, err
}

func (e *Encoder) table(ch *cdc.Change) (*table, error) {
	if ch.Op == cdc.OpMessage {
		return e.message, nil
	}
	t := e.tables[ch.Table]
	if t == nil {
		return nil, fmt.Errorf("encode: %q is not a reference table", ch.Table)
	}
	return t, nil
}

func (e *Encoder) key(ctx context.Context, t *table, ch *cdc.Change) ([]byte, error) {
	var vals structValue
	if ch.Op == cdc.OpMessage {
		vals = structValue{messagePrefix(ch)}
	} else {
		keyRow := ch.Key
		if keyRow == nil {
			keyRow = ch.Row()
		}
		var err error
		if vals, err = e.rowValue(t.keyCols, t.key, keyRow); err != nil {
			return nil, fmt.Errorf("encode %s key: %w", ch.Table, err)
		}
	}
	return e.encode(ctx, t, true, vals)
}

func messagePrefix(ch *cdc.Change) any {
	if ch.Message == nil {
		return nil
	}
	return ch.Message.Prefix
}

// encode writes a key or value struct in the encoder's format.
func (e *Encoder) encode(ctx context.Context, t *table, isKey bool, vals structValue) ([]byte, error) {
	s, embedded := t.value, t.jsonVal
	if isKey {
		s, embedded = t.key, t.jsonKey
	}
	switch e.o.Format {
	case JSON:
		var w jsonWriter
		err := w.value(s, vals)
		return w.b, err
	case JSONWithSchema:
		w := jsonWriter{b: append([]byte(`{"schema":`), embedded...)}
		w.raw(`,"payload":`)
		if err := w.value(s, vals); err != nil {
			return nil, err
		}
		w.raw("}")
		return w.b, nil
	case Avro:
		suffix := "-value"
		if isKey {
			suffix = "-key"
		}
		sub, err := e.subject(ctx, t.topic+suffix, s)
		if err != nil {
			return nil, err
		}
		b, _ := (&sr.ConfluentHeader{}).AppendEncode(nil, sub.id, nil)
		return sub.codec.BinaryFromNative(b, avroNative(s, vals))
	}
	return nil, fmt.Errorf("unknown format %v", e.o.Format)
}

// subject registers the Avro form of s under name once and returns its id and codec.
func (e *Encoder) subject(ctx context.Context, name string, s *connectSchema) (*subject, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if sub := e.subjects[name]; sub != nil {
		return sub, nil
	}
	text := avroSchema(s)
	codec, err := goavro.NewCodec(text)
	if err != nil {
		return nil, fmt.Errorf("avro schema of %s: %w", name, err)
	}
	ss, err := e.o.Registry.CreateSchema(ctx, name, sr.Schema{Schema: text, Type: sr.TypeAvro})
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", name, err)
	}
	sub := &subject{id: ss.ID, codec: codec}
	e.subjects[name] = sub
	return sub, nil
}

// avroSchema renders s as the Avro converter registers it.
func avroSchema(s *connectSchema) string {
	w := avroWriter{defined: map[string]bool{}}
	w.avroType(s, "")
	return string(w.b)
}

func (e *Encoder) envelopeValue(t *table, ch *cdc.Change) (structValue, error) {
	before, err := e.image(t, ch.Before)
	if err != nil {
		return nil, fmt.Errorf("before: %w", err)
	}
	after, err := e.image(t, ch.After)
	if err != nil {
		return nil, fmt.Errorf("after: %w", err)
	}
	return structValue{before, after, e.source(ch, t.physical), nil, ch.Op.String(),
		ch.TsMs, ch.TsMs * 1000, ch.TsMs * 1_000_000}, nil
}

func (e *Encoder) messageValue(ch *cdc.Change) (structValue, error) {
	if ch.Message == nil {
		return nil, errors.New("message change without Message")
	}
	msg := structValue{ch.Message.Prefix, ch.Message.Content}
	if ch.Message.Content == nil {
		msg[1] = []byte{}
	}
	return structValue{ch.Op.String(), ch.TsMs, e.source(ch, ""), msg}, nil
}

func (e *Encoder) source(ch *cdc.Change, physical string) structValue {
	s := ch.Source
	snapshot := s.Snapshot
	if snapshot == "" {
		snapshot = "false"
		if ch.Op == cdc.OpRead {
			snapshot = "true"
		}
	}
	schema := s.Schema
	if schema == "" && physical != "" {
		schema = e.o.Source.Schema
	}
	var sequence, txID, lsn any
	if s.LSN != 0 {
		lsn = s.LSN
		sequence = `[null,"` + strconv.FormatInt(s.LSN, 10) + `"]`
	}
	if s.TxID != 0 {
		txID = s.TxID
	}
	return structValue{Version, "postgresql", e.o.Source.TopicPrefix, s.TsMs, snapshot, s.DB, sequence,
		s.TsMs * 1000, s.TsMs * 1_000_000, schema, physical, txID, lsn, nil}
}

func (e *Encoder) image(t *table, row *cdc.Row) (any, error) {
	if row == nil {
		return nil, nil
	}
	for _, c := range row.Columns {
		if !t.hasColumn(c.Name) {
			return nil, fmt.Errorf("column %s is not in the reference table %s", c.Name, t.def.Name)
		}
	}
	return e.rowValue(t.cols, t.row, row)
}

func (t *table) hasColumn(name string) bool {
	_, ok := t.def.Column(name)
	return ok
}

func (e *Encoder) rowValue(cols []column, s *connectSchema, row *cdc.Row) (structValue, error) {
	vals := make(structValue, len(cols))
	for i, c := range cols {
		v, err := e.columnValue(c.typ, s.fields[i].schema, row.Get(c.logical))
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.logical, err)
		}
		vals[i] = v
	}
	return vals, nil
}

// columnValue turns v, of a column of type t with schema s, into the value Debezium writes.
func (e *Encoder) columnValue(t cdc.ColumnType, s *connectSchema, v cdc.Value) (any, error) {
	switch v.Kind {
	case cdc.Null:
		return nil, nil
	case cdc.Unavailable:
		return unavailable(s)
	}
	if want := t.Kind(); v.Kind != want {
		return nil, fmt.Errorf("value of kind %d for a %s column", v.Kind, t)
	}
	switch t {
	case cdc.TypeInt:
		if v.Int < math.MinInt32 || v.Int > math.MaxInt32 {
			return nil, fmt.Errorf("%d out of int range", v.Int)
		}
		return int32(v.Int), nil
	case cdc.TypeBool:
		return v.Bool(), nil
	case cdc.TypeDate:
		return int32(v.Int), nil
	case cdc.TypeTimestamptz:
		return time.UnixMicro(v.Int).UTC().Format("2006-01-02T15:04:05.999999Z07:00"), nil
	case cdc.TypeNumeric:
		return e.decimal(v.Str)
	}
	return v.Str, nil
}

// unavailable is the placeholder Debezium writes for an unchanged TOAST value of schema s.
func unavailable(s *connectSchema) (any, error) {
	switch s.typ {
	case "string":
		return cdc.Placeholder, nil
	case "bytes":
		return []byte(cdc.Placeholder), nil
	case "struct":
		return structValue{int32(0), []byte(cdc.Placeholder)}, nil
	}
	return nil, fmt.Errorf("a %s column cannot be unavailable", s.typ)
}

func (e *Encoder) decimal(text string) (any, error) {
	switch e.o.DecimalMode {
	case DecimalDouble:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, fmt.Errorf("decimal %q: %w", text, err)
		}
		return f, nil
	case DecimalPrecise:
		unscaled, scale, err := unscaledDecimal(text)
		if err != nil {
			return nil, err
		}
		return structValue{int32(scale), twosComplement(unscaled)}, nil
	}
	return text, nil
}

// unscaledDecimal splits decimal text into its unscaled integer and scale.
func unscaledDecimal(text string) (*big.Int, int, error) {
	intPart, frac, _ := strings.Cut(text, ".")
	n, ok := new(big.Int).SetString(intPart+frac, 10)
	if !ok {
		return nil, 0, fmt.Errorf("decimal %q is not a decimal number", text)
	}
	return n, len(frac), nil
}

// twosComplement returns the minimal big-endian two's-complement bytes of n, as Java's
// BigInteger.toByteArray does.
func twosComplement(n *big.Int) []byte {
	if n.Sign() >= 0 {
		b := n.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	m := new(big.Int).Neg(n)
	m.Sub(m, big.NewInt(1))
	b := m.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}
