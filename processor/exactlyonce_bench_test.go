package processor_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
	"github.com/loyaltyhooks/loyaltyhooks/processor"
	"github.com/loyaltyhooks/loyaltyhooks/processor/claim"
	"github.com/loyaltyhooks/loyaltyhooks/processor/lookup"
	"github.com/loyaltyhooks/loyaltyhooks/topology"
)

// BenchmarkEndToEnd measures the processor's end-to-end throughput — transactions and Redis
// lookups and claims on — against a plain transactional pass-through (consume → produce the same
// records → commit, no work) over the same change records on the same in-process broker, one
// after the other in each iteration. kfake is far faster than a real broker, so only the ratio
// means anything; the absolute rates are for comparing runs on one machine. The claims=off
// variant runs the processor with claim.EmitAll, to tell the claims' share of the cost.
//
// It logs where the processor's time went, by batch phase (loyaltyhooks_processor_batch_phase_
// seconds); the rest is polling.
//
// The redis=off variant leaves Redis out altogether — lookup rows kept in the process, no claims,
// timers or deferred changes — so it measures what decoding, the rules and encoding cost through
// the same transactional loop: the most any Redis design could reach on this machine.
func BenchmarkEndToEnd(b *testing.B) {
	b.Run("claims=redis", func(b *testing.B) { endToEnd(b) })
	b.Run("claims=off", func(b *testing.B) { endToEnd(b, processor.WithClaimer(claim.EmitAll{})) })
	b.Run("redis=off", func(b *testing.B) {
		endToEnd(b, processor.WithClaimer(claim.EmitAll{}), processor.WithLocalState())
	})
}

// benchBroker is what the end-to-end benchmarks run on: an in-process broker with the topology
// and a pass-through topic, a private redis-server, and a configuration pointing at both.
type benchBroker struct {
	cfg config.Config
	cl  *kgo.Client
	adm *kadm.Client
	rdb *redis.Client
}

// passTopic is where the pass-through writes.
const passTopic = "bench.passthrough"

func newBenchBroker(b *testing.B) *benchBroker {
	b.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cluster.Close)
	srv := redistest.Start(b)
	cfg := config.Defaults()
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cfg.Kafka.SessionTimeout, cfg.Kafka.RebalanceTimeout = 6*time.Second, 3*time.Second
	cfg.Redis.URL = srv.URL()
	cfg.Processor.InstanceID = "bench-1"
	setup, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...))
	if err != nil {
		b.Fatal(err)
	}
	defer setup.Close()
	ctx := context.Background()
	if _, err := topology.CreateMissing(ctx, kadm.NewClient(setup), topology.FromConfig(cfg)); err != nil {
		b.Fatal(err)
	}
	if _, err := kadm.NewClient(setup).CreateTopic(ctx, 6, -1, nil, passTopic); err != nil {
		b.Fatal(err)
	}
	// A client made once the topics exist: the setup client cached their absence.
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	return &benchBroker{cfg: cfg, cl: cl, adm: kadm.NewClient(cl), rdb: srv.Client()}
}

// produce writes copies of recs (their topic, key and value) in batches of 1000.
func (bb *benchBroker) produce(b *testing.B, recs []*kgo.Record) {
	b.Helper()
	for lo := 0; lo < len(recs); lo += 1000 {
		var batch []*kgo.Record
		for _, r := range recs[lo:min(lo+1000, len(recs))] {
			batch = append(batch, &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value})
		}
		if err := bb.cl.ProduceSync(context.Background(), batch...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
}

// newProcessor builds a processor of its own group on the broker, its log discarded.
func (bb *benchBroker) newProcessor(b *testing.B, group string, opts ...processor.Option) (*processor.Processor, config.Config) {
	b.Helper()
	cfg := bb.cfg
	cfg.Processor.Group = group
	p, err := processor.New(context.Background(), cfg,
		append(opts, processor.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))...)
	if err != nil {
		b.Fatal(err)
	}
	return p, cfg
}

func endToEnd(b *testing.B, opts ...processor.Option) {
	bb := newBenchBroker(b)
	cfg, adm, rdb, ctx := bb.cfg, bb.adm, bb.rdb, context.Background()
	snapshot, live := simulated(b, cfg, 8000)
	recs := append(snapshot, live...)
	bb.produce(b, recs)

	var pass, proc time.Duration
	var phases [len(processor.PhaseNames)]float64 // seconds per phase of the processor's batches, summed
	var deferred float64                          // changes deferred, summed over the runs
	b.ResetTimer()
	for i := range b.N {
		group := fmt.Sprintf("bench-pass-%d", i)
		pass += timeToCommitAll(b, adm, group, func(ctx context.Context) error {
			return passThrough(ctx, cfg, group, passTopic)
		})

		b.StopTimer()
		if err := rdb.FlushAll(ctx).Err(); err != nil { // every iteration claims anew
			b.Fatal(err)
		}
		p, pcfg := bb.newProcessor(b, fmt.Sprintf("bench-proc-%d", i), opts...)
		b.StartTimer()
		proc += timeToCommitAll(b, adm, pcfg.Processor.Group, p.Run)
		for i, name := range processor.PhaseNames {
			var m dto.Metric
			if err := p.Metrics().BatchPhaseSeconds.WithLabelValues(name).(prometheus.Histogram).Write(&m); err != nil {
				b.Fatal(err)
			}
			phases[i] += m.GetHistogram().GetSampleSum()
		}
		deferred += deferredChanges(b, p)
	}
	b.StopTimer()
	b.ReportMetric(deferred/float64(b.N), "deferred-changes")
	n := float64(b.N * len(recs))
	b.ReportMetric(n/pass.Seconds(), "passthrough-records/s")
	b.ReportMetric(n/proc.Seconds(), "processor-records/s")
	b.ReportMetric(pass.Seconds()/proc.Seconds(), "x-passthrough")
	var breakdown strings.Builder
	for i, name := range processor.PhaseNames {
		fmt.Fprintf(&breakdown, " %s %.1f", name, phases[i]*1000/float64(b.N))
	}
	b.Logf("processor %.1f ms per run, of which batch phases (ms):%s", proc.Seconds()*1000/float64(b.N), breakdown.String())
}

// deferredChanges is how many changes p deferred: waiting for a row, or behind an earlier change
// of theirs.
func deferredChanges(b *testing.B, p *processor.Processor) float64 {
	var n float64
	for table := range lookup.Tables {
		n += counter(b, p.Metrics().DeferredChanges.WithLabelValues(table))
	}
	return n + counter(b, p.Metrics().DeferredChanges.WithLabelValues("order"))
}

// timeToCommitAll runs run until the group has committed every change record and returns how
// long that took.
func timeToCommitAll(b *testing.B, adm *kadm.Client, group string, run func(context.Context) error) time.Duration {
	b.Helper()
	start := time.Now()
	stop := runInBackground(context.Background(), b, run)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		lags, err := adm.Lag(context.Background(), group)
		if err != nil {
			continue
		}
		l := lags[group]
		if l.Error() == nil && !l.Lag.IsEmpty() && sourceLag(l.Lag) == 0 {
			break
		}
	}
	elapsed := time.Since(start)
	stop()
	return elapsed
}

// sourceLag is the lag over the change topics, leaving out the processor's own timers topic.
func sourceLag(l kadm.GroupLag) int64 {
	var n int64
	for topic, ps := range l {
		if topic == config.Defaults().Topics.Timers {
			continue
		}
		for _, p := range ps {
			if p.Commit.At < 0 && p.End.Offset > 0 {
				return 1 // not committed yet: a lag kadm may leave out
			}
			n += p.Lag
		}
	}
	return n
}

// passThrough is the baseline: the processor's transactional loop with no work in it.
func passThrough(ctx context.Context, cfg config.Config, group, out string) error {
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(cfg.Kafka.Brokers...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topology.FromConfig(cfg).Sources()...),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.TransactionalID(group),
		kgo.SessionTimeout(cfg.Kafka.SessionTimeout),
		kgo.RebalanceTimeout(cfg.Kafka.RebalanceTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		return err
	}
	defer sess.Close()
	for {
		fs := sess.PollRecords(ctx, cfg.Processor.MaxPollRecords)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			return err
		}
		for _, r := range recs {
			sess.Produce(ctx, &kgo.Record{Topic: out, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp}, nil)
		}
		if _, err := sess.End(ctx, kgo.TryCommit); err != nil {
			return err
		}
	}
}
