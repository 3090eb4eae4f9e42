package schemas

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/sr"
)

// ValueSubject is the registry subject of a topic's record values: <topic>-value.
func ValueSubject(topic string) string { return topic + "-value" }

// Writer frames encoded events for the webhook topic: in the Confluent wire format when a
// schema registry is configured, else in Avro single-object encoding.
type Writer struct {
	codec  *Codec
	header []byte
	id     int
	// lastSize is the size of the last record, by which Encode grows a short dst at once
	// instead of by doubling as the record is written.
	lastSize atomic.Int64
}

// NewWriter returns a Writer for c. With a registry it first registers c's schema under
// subject (ValueSubject of the topic) and frames records with the id it gets; with a nil
// registry it frames them with c's fingerprint.
func NewWriter(ctx context.Context, c *Codec, registry *sr.Client, subject string) (*Writer, error) {
	if registry == nil {
		return &Writer{codec: c, header: binary.LittleEndian.AppendUint64([]byte{0xC3, 0x01}, c.fingerprint)}, nil
	}
	id, err := registry.RegisterSchema(ctx, subject, sr.Schema{Schema: c.schema, Type: sr.TypeAvro}, -1, -1)
	if err != nil {
		return nil, fmt.Errorf("register webhook event schema under %s: %w", subject, err)
	}
	header, err := new(sr.ConfluentHeader).AppendEncode(nil, id, nil)
	if err != nil {
		return nil, err
	}
	return &Writer{codec: c, header: header, id: id}, nil
}

// SchemaID returns the registry's id of the schema, 0 without a registry.
func (w *Writer) SchemaID() int { return w.id }

// Encode appends the framed record of e to dst. Nothing is appended on error.
func (w *Writer) Encode(dst []byte, e *Event) ([]byte, error) {
	start := len(dst)
	dst = slices.Grow(dst, int(w.lastSize.Load()))
	dst, err := w.codec.Append(append(dst, w.header...), e)
	if err != nil {
		return dst[:start], err
	}
	w.lastSize.Store(int64(len(dst) - start))
	return dst, nil
}

// Reader decodes records of the webhook topic in either framing. It is safe for concurrent
// use.
type Reader struct {
	codec    *Codec
	registry *sr.Client

	mu      sync.Mutex
	writers map[int]*compiled // writer schemas by registry id
}

// NewReader returns a Reader that decodes single-object records written with c's schema and,
// when registry is not nil, Confluent-framed records with the writer schema the registry
// has under the record's id.
func NewReader(c *Codec, registry *sr.Client) *Reader {
	return &Reader{codec: c, registry: registry, writers: map[int]*compiled{}}
}

// Decode decodes one record value into plain values (see Event).
func (r *Reader) Decode(b []byte) (*Event, error) {
	switch {
	case len(b) >= 10 && b[0] == 0xC3 && b[1] == 0x01:
		fp := binary.LittleEndian.Uint64(b[2:10])
		if fp != r.codec.fingerprint {
			return nil, fmt.Errorf("decode webhook event: unknown schema fingerprint %016x (this build writes %016x)", fp, r.codec.fingerprint)
		}
		return r.codec.decode(b[10:])
	case len(b) >= 5 && b[0] == 0:
		id, body, err := new(sr.ConfluentHeader).DecodeID(b)
		if err != nil {
			return nil, err
		}
		cp, err := r.writer(id)
		if err != nil {
			return nil, fmt.Errorf("decode webhook event with schema id %d: %w", id, err)
		}
		return cp.decode(body)
	case len(b) == 0:
		return nil, fmt.Errorf("decode webhook event: empty record")
	}
	return nil, fmt.Errorf("decode webhook event: neither single-object nor Confluent framing (first byte 0x%02x)", b[0])
}

// writer returns the writer schema registered under id, fetching it once.
func (r *Reader) writer(id int) (*compiled, error) {
	r.mu.Lock()
	cp, ok := r.writers[id]
	r.mu.Unlock()
	if ok {
		return cp, nil
	}
	if r.registry == nil {
		return nil, fmt.Errorf("a Confluent-framed record, but no schema registry is configured")
	}
	s, err := r.registry.SchemaByID(context.Background(), id) // the client's timeout bounds it
	if err != nil {
		return nil, err
	}
	switch {
	case s.Type != sr.TypeAvro:
		return nil, fmt.Errorf("schema is %s, not Avro", s.Type)
	case s.Schema == r.codec.schema:
		cp = r.codec.compiled
	default:
		if cp, err = compile(s.Schema); err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	r.writers[id] = cp
	r.mu.Unlock()
	return cp, nil
}
