package processor_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/debezium"
	"github.com/loyaltyhooks/loyaltyhooks/internal/simulator"
	"github.com/loyaltyhooks/loyaltyhooks/processor"
	"github.com/loyaltyhooks/loyaltyhooks/processor/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/processor/claim"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
)

// simulated returns the Debezium JSON records of the simulated database's snapshot and of n
// business actions: the realistic mix of tables, operations and triggers the demo shows.
func simulated(tb testing.TB, cfg config.Config, n int) (snapshot, live []*kgo.Record) {
	tb.Helper()
	enc, err := debezium.NewEncoder(debezium.Options{Format: debezium.JSON, DecimalMode: "string", Source: cfg.Source})
	if err != nil {
		tb.Fatal(err)
	}
	var out *[]*kgo.Record
	offsets := map[string]int64{}
	sink := func(ctx context.Context, ch *cdc.Change) error {
		topic, key, value, err := enc.Encode(ctx, ch)
		if err != nil {
			return err
		}
		*out = append(*out, &kgo.Record{Topic: topic, Key: key, Value: value, Offset: offsets[topic]})
		offsets[topic]++
		return nil
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { start = start.Add(time.Second); return start }
	sim := simulator.New(simulator.Options{Seed: 7, Tenants: 2, Clock: clock})
	out = &snapshot
	if err := sim.Snapshot(context.Background(), sink); err != nil {
		tb.Fatal(err)
	}
	out = &live
	for range n {
		if err := sim.Step(context.Background(), sink); err != nil {
			tb.Fatal(err)
		}
	}
	return snapshot, live
}

// BenchmarkHotPath measures decode → classify → encode per change record over the simulated
// mix, with lookups held in memory (Redis round trips are measured elsewhere).
func BenchmarkHotPath(b *testing.B) {
	cfg := config.Defaults()
	snapshot, live := simulated(b, cfg, 2000)
	dec, err := cdc.NewDecoder(cfg.Source, nil)
	if err != nil {
		b.Fatal(err)
	}
	codec, err := schemas.New()
	if err != nil {
		b.Fatal(err)
	}
	w, err := schemas.NewWriter(context.Background(), codec, nil, "")
	if err != nil {
		b.Fatal(err)
	}
	p := &processor.Pipeline{Decoder: dec, Encoder: w, Claimer: claim.EmitAll{},
		WebhookTopic: cfg.Topics.Webhooks, DeadTopic: cfg.Topics.CDCDeadLetter, Metrics: processor.NewMetrics(nil)}
	ctx := context.Background()
	if _, err := p.Process(ctx, snapshot); err != nil {
		b.Fatal(err)
	}
	const batch = 500
	live = live[:len(live)/batch*batch]
	events := 0
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lo := (i * batch) % len(live)
		out, err := p.Process(ctx, live[lo:lo+batch])
		if err != nil {
			b.Fatal(err)
		}
		events += len(out)
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	records := float64(b.N * batch)
	allocs := float64(after.Mallocs - before.Mallocs)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/records, "ns/record")
	b.ReportMetric(allocs/records, "allocs/record")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
	b.ReportMetric(allocs/float64(events), "allocs/event")
	b.ReportMetric(float64(events)/records, "events/record")
}
