package faultsuite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/debezium"
	"github.com/loyaltyhooks/loyaltyhooks/internal/simulator"
	"github.com/loyaltyhooks/loyaltyhooks/processor"
	"github.com/loyaltyhooks/loyaltyhooks/processor/claim"
)

// poisonHeader marks the records the suite made unreadable on purpose, with a number; the
// processor must copy each to the dead-letter topic, headers and all, exactly once.
const poisonHeader = "faultsuite-poison"

// stream is a change stream of the simulated loyalty database, as Debezium JSON records, with
// what it must yield.
type stream struct {
	// snapshot and live are the records in the order Debezium writes them: the initial
	// snapshot, then the changes of business actions, poison records interleaved.
	snapshot, live []*kgo.Record
	// events maps every messageId the stream must yield to its trigger.
	events map[string]string
	// poison lists the numbers of the poison records, each due in the dead-letter topic once.
	poison map[string]bool
}

// newStream simulates steps business actions of a two-store database (seeded, so the same
// arguments give the same stream) and interleaves a poison record every poisonEvery records
// (0: none). The expected events come from running the unique records through the processor's
// own pipeline in-process with claims off: every change once, so nothing to deduplicate.
func newStream(t testing.TB, cfg config.Config, seed int64, steps, poisonEvery int) *stream {
	t.Helper()
	enc, err := debezium.NewEncoder(debezium.Options{Format: debezium.JSON, DecimalMode: "string", Source: cfg.Source})
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{events: map[string]string{}, poison: map[string]bool{}}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	var out *[]*kgo.Record
	sink := func(ctx context.Context, ch *cdc.Change) error {
		topic, key, value, err := enc.Encode(ctx, ch)
		if err != nil {
			return err
		}
		*out = append(*out, &kgo.Record{Topic: topic, Key: key, Value: value})
		if poisonEvery > 0 && ch.Op != cdc.OpRead && rng.IntN(poisonEvery) == 0 {
			*out = append(*out, s.poisonRecord(rng, topic, key, value))
		}
		return nil
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { start = start.Add(1500 * time.Millisecond); return start }
	sim := simulator.New(simulator.Options{Seed: seed, Tenants: 2, Clock: clock})
	ctx := context.Background()
	out = &s.snapshot
	if err := sim.Snapshot(ctx, sink); err != nil {
		t.Fatal(err)
	}
	out = &s.live
	for range steps {
		if err := sim.Step(ctx, sink); err != nil {
			t.Fatal(err)
		}
	}
	s.expect(t, cfg)
	return s
}

// poisonRecord makes one unreadable record of a kind picked at random.
func (s *stream) poisonRecord(rng *rand.Rand, topic string, key, value []byte) *kgo.Record {
	n := strconv.Itoa(len(s.poison))
	s.poison[n] = true
	var v []byte
	switch rng.IntN(4) {
	case 0: // not JSON at all
		v = []byte("\x00\x01 not a change " + n)
	case 1: // a real change cut short, as a broken producer might leave it
		v = value[:len(value)/2]
	case 2: // an envelope without the row an insert needs
		v = []byte(`{"before":null,"after":null,"op":"c","ts_ms":1767225600000,"source":{"ts_ms":1767225600000,"snapshot":"false","db":"loyalty","schema":"public","table":"member","txId":1,"lsn":8}}`)
	default: // a value of the wrong type for its column
		v = []byte(strings.Replace(string(value), `"tenant_id":"`, `"tenant_id":{"oops":`+n+`},"x":"`, 1))
	}
	return &kgo.Record{Topic: topic, Key: key, Value: v,
		Headers: []kgo.RecordHeader{{Key: poisonHeader, Value: []byte(n)}}}
}

// expect runs every record once through the pipeline, claims off, and records what comes out.
func (s *stream) expect(t testing.TB, cfg config.Config) {
	t.Helper()
	p, err := processor.NewMemoryPipeline(cfg, claim.EmitAll{})
	if err != nil {
		t.Fatal(err)
	}
	recs := append(append([]*kgo.Record(nil), s.snapshot...), s.live...)
	offsets := map[string]int64{}
	for _, r := range recs {
		r.Offset = offsets[r.Topic] // distinct coordinates, as a topic would give them
		offsets[r.Topic]++
	}
	out, err := p.Process(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	dead := map[string]bool{}
	for _, r := range out {
		switch r.Topic {
		case cfg.Topics.Webhooks:
			id := processor.Header(r, processor.HeaderMessageID)
			if _, dup := s.events[id]; dup {
				t.Fatalf("the stream yields messageId %s twice without any redelivery", id)
			}
			s.events[id] = processor.Header(r, processor.HeaderEventName)
		case cfg.Topics.CDCDeadLetter:
			n := processor.Header(r, poisonHeader)
			if !s.poison[n] {
				t.Fatalf("a record that is not poison was dead-lettered: %s", processor.Header(r, processor.HeaderDeadError))
			}
			dead[n] = true
		}
	}
	if len(dead) != len(s.poison) {
		t.Fatalf("%d of %d poison records reach the dead-letter topic in-process", len(dead), len(s.poison))
	}
	for _, r := range recs {
		r.Offset = 0
	}
}

// good returns the records of recs that are not poison: Debezium redelivers changes, never a
// record someone else wrote.
func good(recs []*kgo.Record) []*kgo.Record {
	var out []*kgo.Record
	for _, r := range recs {
		if processor.Header(r, poisonHeader) == "" {
			out = append(out, r)
		}
	}
	return out
}

func (s *stream) String() string {
	return fmt.Sprintf("%d snapshot and %d live records (%d poison), %d events",
		len(s.snapshot), len(s.live), len(s.poison), len(s.events))
}
