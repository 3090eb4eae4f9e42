package processor_test

import (
	"context"
	"encoding/json"
	"runtime"
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
// mix, with lookups held in memory (Redis round trips are measured elsewhere). Shared machines
// are noisy, so each batch is also parsed by encoding/json into map[string]any — the least any
// JSON consumer does — and the ratio of the two, measured side by side, is the figure to compare.
func BenchmarkHotPath(b *testing.B) {
	cfg := config.Defaults()
	snapshot, live := simulated(b, cfg, 2000)
	p, err := processor.NewMemoryPipeline(cfg, claim.EmitAll{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := p.Process(ctx, snapshot); err != nil {
		b.Fatal(err)
	}
	const batch = 500
	live = live[:len(live)/batch*batch]
	events := 0
	var pipeline, baseline time.Duration
	var allocs uint64 // the pipeline's only; the baseline's are left out
	var before, after runtime.MemStats
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		recs := live[(i*batch)%len(live):][:batch]
		start := time.Now()
		for _, r := range recs {
			var m map[string]any
			if err := json.Unmarshal(r.Value, &m); err != nil {
				b.Fatal(err)
			}
		}
		baseline += time.Since(start)

		runtime.ReadMemStats(&before)
		start = time.Now()
		out, err := p.Process(ctx, recs)
		pipeline += time.Since(start)
		runtime.ReadMemStats(&after)
		if err != nil {
			b.Fatal(err)
		}
		events += len(out)
		allocs += after.Mallocs - before.Mallocs
	}
	b.StopTimer()
	records := float64(b.N * batch)
	b.ReportMetric(float64(pipeline.Nanoseconds())/records, "ns/record")
	b.ReportMetric(float64(pipeline.Nanoseconds())/float64(events), "ns/event")
	b.ReportMetric(float64(allocs)/float64(events), "allocs/event")
	b.ReportMetric(float64(events)/records, "events/record")
	b.ReportMetric(float64(pipeline)/float64(baseline), "x-json-unmarshal")
}
