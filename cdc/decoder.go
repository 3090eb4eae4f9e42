package cdc

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/loyaltyhooks/loyaltyhooks/config"
)

// heartbeatTopicPrefix starts the topics of Debezium's heartbeat records (topic.heartbeat.prefix).
const heartbeatTopicPrefix = "__debezium-heartbeat"

// MessageTopicSuffix ends the topic of logical decoding messages: <topicPrefix>.message.
const MessageTopicSuffix = ".message"

// Decoder turns Debezium records of the mapped tables into Changes. It is safe for concurrent use.
type Decoder struct {
	avro    bool
	schemas schemaFetcher
	topics  map[string]*tableInfo
}

// tableInfo is everything the decoder knows about one source topic.
type tableInfo struct {
	logical  string // "" for the logical decoding message topic
	byPhys   map[string]*colInfo
	keyWidth int     // number of primary-key columns
	bare     rowPlan // how to read a row when the record carries no schema

	jsonValues schemaCache[*valuePlan]
	jsonKeys   schemaCache[*rowPlan]
	avroValues planCache
	avroKeys   planCache
}

// colInfo is the logical name and reference type ("" when the reference schema does not have
// it) of one physical column.
type colInfo struct {
	logical string
	typ     ColumnType
}

// NewDecoder prepares a decoder for the tables of src. registry is required for the avro format
// and may be nil for json (a record key in Avro is then poison).
func NewDecoder(src config.Source, registry *sr.Client) (*Decoder, error) {
	if src.TopicPrefix == "" {
		return nil, errors.New("source.topicPrefix is empty")
	}
	if src.Schema == "" {
		return nil, errors.New("source.schema is empty")
	}
	d := &Decoder{schemas: schemaFetcher{registry: registry}, topics: map[string]*tableInfo{}}
	switch src.Format {
	case config.FormatJSON, "":
	case config.FormatAvro:
		if registry == nil {
			return nil, errors.New("source.format avro needs schemaRegistry.url")
		}
		d.avro = true
	default:
		return nil, fmt.Errorf("source.format: unknown format %q (want json or avro)", src.Format)
	}
	logical := append([]string(nil), config.LogicalTables...)
	for name := range src.Tables {
		if _, ok := ReferenceTable(name); !ok {
			logical = append(logical, name)
		}
	}
	for _, name := range logical {
		t, err := newTableInfo(src, name)
		if err != nil {
			return nil, err
		}
		topic := src.Topic(name)
		if other, ok := d.topics[topic]; ok {
			return nil, fmt.Errorf("source.tables: %s and %s both map to topic %s", other.logical, name, topic)
		}
		d.topics[topic] = t
	}
	d.topics[src.TopicPrefix+MessageTopicSuffix] = &tableInfo{byPhys: map[string]*colInfo{}}
	return d, nil
}

func newTableInfo(src config.Source, logical string) (*tableInfo, error) {
	mapping := src.Tables[logical]
	t := &tableInfo{logical: logical, byPhys: map[string]*colInfo{}, keyWidth: 1}
	add := func(name string, typ ColumnType) error {
		phys := name
		if p := mapping.Columns[name]; p != "" {
			phys = p
		}
		if c, ok := t.byPhys[phys]; ok {
			return fmt.Errorf("source.tables.%s.columns: %s and %s both map to column %s", logical, c.logical, name, phys)
		}
		c := &colInfo{logical: name, typ: typ}
		t.byPhys[phys] = c
		t.bare.add(field{phys: phys, name: name, op: bareOp(typ)})
		return nil
	}
	def, _ := ReferenceTable(logical)
	if def != nil {
		for _, c := range def.Columns {
			if err := add(c.Name, c.Type); err != nil {
				return nil, err
			}
		}
		t.keyWidth = len(def.Key)
	}
	for name := range mapping.Columns {
		if def != nil {
			if _, ok := def.Column(name); ok {
				continue
			}
		}
		if err := add(name, ""); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// column returns the mapping of a physical column, or nil.
func (t *tableInfo) column(phys string) *colInfo { return t.byPhys[phys] }

// block holds one decoded change and its rows, the slab their columns are cut from (allocated
// with it, see newBlock) and the arena of the record's text, shared by its value and key.
type block struct {
	ch                 Change
	key, before, after Row
	msg                Message
	cols               []Column
	text               arena
	spare              int // room the arena's buffer gets beyond the copy of the value
}

// textSpare is the room an arena gets beyond the copies of a record's value and key, for the
// text built while reading them: decimals and the like.
const textSpare = 64

// withSlab is a block allocated together with its slab of columns, an array of type A.
type withSlab[A any] struct {
	block
	slab A
}

// newBlock returns a block with a slab of n columns. Up to 64 the slab is allocated with the
// block, rounded up to 16, 32, 48 or 64 columns, so a record's change costs one allocation.
func newBlock(n int) *block {
	var (
		blk  *block
		slab []Column
	)
	switch {
	case n <= 16:
		b := new(withSlab[[16]Column])
		blk, slab = &b.block, b.slab[:]
	case n <= 32:
		b := new(withSlab[[32]Column])
		blk, slab = &b.block, b.slab[:]
	case n <= 48:
		b := new(withSlab[[48]Column])
		blk, slab = &b.block, b.slab[:]
	case n <= 64:
		b := new(withSlab[[64]Column])
		blk, slab = &b.block, b.slab[:]
	default:
		blk, slab = new(block), make([]Column, n)
	}
	blk.cols = slab[:n]
	return blk
}

// columns returns an empty column slice with room for n, cut from the slab while it lasts.
func (b *block) columns(n int) []Column {
	if n > len(b.cols) {
		return make([]Column, 0, n)
	}
	c := b.cols[:0:n]
	b.cols = b.cols[n:]
	return c
}

// Decode reads one record. It returns (nil, nil) for records that carry no change: tombstones
// and heartbeats. A *PoisonError means the record can never be read; any other error is
// transient (the schema registry could not be reached) and the batch should be retried.
func (d *Decoder) Decode(ctx context.Context, r *kgo.Record) (*Change, error) {
	if len(r.Value) == 0 || strings.HasPrefix(r.Topic, heartbeatTopicPrefix) {
		return nil, nil
	}
	t := d.topics[r.Topic]
	if t == nil {
		return nil, poison(r, faultf(ReasonUnknownTable, "topic is not a table of source.tables"))
	}
	blk := newBlock(2*len(t.bare.fields) + t.keyWidth)
	blk.spare = len(r.Key) + textSpare
	var err error
	if d.avro {
		err = d.decodeAvroValue(ctx, r.Value, t, blk)
	} else {
		err = decodeJSONValue(r.Value, t, blk)
	}
	if err == errNoOp {
		return nil, nil // a heartbeat on a table topic, or any value without an operation
	}
	if err == nil {
		err = checkEnvelope(&blk.ch)
	}
	if err == nil && len(r.Key) > 0 {
		blk.ch.Key, err = d.decodeKey(ctx, r.Key, t, blk)
	}
	if err != nil {
		var f *fault
		if errors.As(err, &f) {
			return nil, poison(r, f)
		}
		return nil, fmt.Errorf("decode %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	ch := &blk.ch
	ch.Table = t.logical
	ch.Source.Topic, ch.Source.Partition, ch.Source.Offset = r.Topic, r.Partition, r.Offset
	return ch, nil
}

func (d *Decoder) decodeKey(ctx context.Context, key []byte, t *tableInfo, blk *block) (*Row, error) {
	if key[0] == 0 {
		if d.schemas.registry == nil {
			return nil, faultf(ReasonUndecodable, "record key is Avro but no schema registry is configured")
		}
		return d.decodeAvroKey(ctx, key, t, blk)
	}
	return decodeJSONKey(key, t, blk)
}

var errNoOp = errors.New("no operation")

// checkEnvelope rejects operations without the image or message they must carry.
func checkEnvelope(ch *Change) error {
	switch {
	case (ch.Op == OpCreate || ch.Op == OpRead || ch.Op == OpUpdate) && ch.After == nil:
		return faultf(ReasonMissingField, "op %q without after", ch.Op)
	case ch.Op == OpDelete && ch.Before == nil:
		return faultf(ReasonMissingField, "op %q without before", ch.Op)
	case ch.Op == OpMessage && ch.Message == nil:
		return faultf(ReasonMissingField, "op %q without message", ch.Op)
	}
	return nil
}

func poison(r *kgo.Record, f *fault) *PoisonError {
	return &PoisonError{Reason: f.reason, Err: fmt.Errorf("decode %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, f)}
}

// parseOp reads the envelope's op field.
func parseOp(s string) (Op, error) {
	if len(s) == 1 {
		switch o := Op(s[0]); o {
		case OpCreate, OpUpdate, OpDelete, OpRead, OpTruncate, OpMessage:
			return o, nil
		}
	}
	return 0, badField("op", fmt.Errorf("unknown operation %q", s))
}

// snapshotBool renders a boolean source.snapshot (Debezium before 1.6) as the string it is now.
func snapshotBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
