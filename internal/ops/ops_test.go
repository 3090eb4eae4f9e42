package ops_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/internal/ops"
	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
	"github.com/loyaltyhooks/loyaltyhooks/processor"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestServeHealthAndReadiness(t *testing.T) {
	var assigned int
	redisErr := errors.New("connection refused")
	var redisDown bool
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "loyaltyhooks_test_total", Help: "A test counter."})
	reg.MustRegister(c)
	c.Add(3)
	srv, err := ops.Serve("127.0.0.1:0", reg, quiet,
		ops.Assigned(func() int { return assigned }),
		ops.Check{Name: "redis", Probe: func(context.Context) error {
			if redisDown {
				return redisErr
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	base := "http://" + srv.Addr()

	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 503 || body != "assigned: no partitions assigned\nredis: ok\n" {
		t.Errorf("/readyz with nothing assigned = %d %q", code, body)
	}
	assigned = 3
	if code, body := get(t, base+"/readyz"); code != 200 || body != "assigned: ok\nredis: ok\n" {
		t.Errorf("/readyz when ready = %d %q", code, body)
	}
	redisDown = true
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "redis: connection refused") {
		t.Errorf("/readyz with Redis down = %d %q", code, body)
	}
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, "loyaltyhooks_test_total 3") {
		t.Errorf("/metrics = %d:\n%s", code, body)
	}
}

func TestServeRefusesATakenAddress(t *testing.T) {
	srv, err := ops.Serve("127.0.0.1:0", prometheus.NewRegistry(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := ops.Serve(srv.Addr(), prometheus.NewRegistry(), quiet); err == nil || !strings.Contains(err.Error(), "metrics.addr") {
		t.Errorf("second Serve on %s: err = %v, want one naming metrics.addr", srv.Addr(), err)
	}
}

// Time inside the bubble is virtual: the budget runs out deterministically, without waiting.
func TestRunWithinBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		release := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- ops.RunWithin(ctx, 20*time.Second, func(context.Context) error {
				<-release // ignores ctx: a component stuck while stopping
				return nil
			})
		}()
		cancel()
		start := time.Now()
		err := <-done
		if !errors.Is(err, ops.ErrShutdownBudget) {
			t.Fatalf("RunWithin = %v, want ErrShutdownBudget", err)
		}
		if waited := time.Since(start); waited != 20*time.Second {
			t.Errorf("gave up after %s of virtual time, want the 20s budget", waited)
		}
		close(release)
	})
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		stopped := errors.New("stopped cleanly")
		err := ops.RunWithin(ctx, time.Minute, func(ctx context.Context) error {
			<-ctx.Done()
			return stopped
		})
		if !errors.Is(err, stopped) {
			t.Errorf("RunWithin = %v, want the component's own result", err)
		}
	})
}

func newCluster(t *testing.T) (*kfake.Cluster, *kgo.Client) {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cluster, cl
}

// Lag is read per group and partition: end offset minus the group's committed offset.
func TestLag(t *testing.T) {
	_, cl := newCluster(t)
	ctx := context.Background()
	for i := range 5 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Partition: int32(i % 2), Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(cl)
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 1, LeaderEpoch: -1})
	offsets.Add(kadm.Offset{Topic: "orders", Partition: 1, At: 2, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, "billing", offsets); err != nil {
		t.Fatal(err)
	}
	lag := ops.NewLag(adm, []string{"billing"}, 5*time.Second, quiet)
	want := `
# HELP loyaltyhooks_consumer_lag Records between a group's committed offset and the end of a partition, read through kadm at scrape time.
# TYPE loyaltyhooks_consumer_lag gauge
loyaltyhooks_consumer_lag{group="billing",partition="0",topic="orders"} 2
loyaltyhooks_consumer_lag{group="billing",partition="1",topic="orders"} 0
`
	if err := testutil.CollectAndCompare(lag, strings.NewReader(want), "loyaltyhooks_consumer_lag"); err != nil {
		t.Error(err)
	}
}

func TestLagCountsErrors(t *testing.T) {
	cluster, cl := newCluster(t)
	lag := ops.NewLag(kadm.NewClient(cl), []string{"billing"}, time.Second, quiet)
	cluster.Close()
	want := `
# HELP loyaltyhooks_consumer_lag_errors_total Scrapes that could not read a group's lag.
# TYPE loyaltyhooks_consumer_lag_errors_total counter
loyaltyhooks_consumer_lag_errors_total{group="billing"} 1
`
	if err := testutil.CollectAndCompare(lag, strings.NewReader(want), "loyaltyhooks_consumer_lag_errors_total"); err != nil {
		t.Error(err)
	}
}

func TestBrokerAndRedisChecks(t *testing.T) {
	cluster, cl := newCluster(t)
	redis := redistest.Start(t)
	rdb := redis.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	broker, red := ops.Broker(cl), ops.Redis(rdb)
	if err := broker.Probe(ctx); err != nil {
		t.Errorf("broker check with the broker up: %v", err)
	}
	if err := red.Probe(ctx); err != nil {
		t.Errorf("redis check with Redis up: %v", err)
	}
	cluster.Close()
	redis.Stop()
	if err := broker.Probe(ctx); err == nil {
		t.Error("broker check passes with the broker down")
	}
	if err := red.Probe(ctx); err == nil {
		t.Error("redis check passes with Redis down")
	}
}

// Every metric a process exposes follows the conventions: the loyaltyhooks_ prefix, base units,
// _total on counters (promlint), and no per-member labels.
func TestMetricConventions(t *testing.T) {
	_, seed := newCluster(t)
	reg := prometheus.NewRegistry()
	processor.NewMetrics(reg)
	cl, err := kgo.NewClient(kgo.SeedBrokers(seed.OptValue(kgo.SeedBrokers).([]string)...), kgo.WithHooks(ops.KafkaMetrics(reg)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "orders", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(ops.NewLag(kadm.NewClient(cl), []string{"billing"}, time.Second, quiet))
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		// kprom's own names are as franz-go defines them: it calls two gauges ..._records_total.
		if strings.HasPrefix(p.Metric, "loyaltyhooks_kafka_buffered_") {
			continue
		}
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var kafka int
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "loyaltyhooks_") {
			t.Errorf("%s lacks the loyaltyhooks_ prefix", f.GetName())
		}
		if strings.HasPrefix(f.GetName(), "loyaltyhooks_kafka_") {
			kafka++
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetName(), "member") || strings.Contains(l.GetName(), "customer") {
					t.Errorf("%s has a per-member label %s", f.GetName(), l.GetName())
				}
			}
		}
	}
	if kafka == 0 {
		t.Error("no franz-go client metrics (loyaltyhooks_kafka_*) registered")
	}
}

// Clients sharing the hook register the metrics once (a second registration would panic), keep
// them while any is open, and register them again when one opens after all closed.
func TestKafkaMetricsShared(t *testing.T) {
	_, seed := newCluster(t)
	reg := prometheus.NewRegistry()
	hook := ops.KafkaMetrics(reg)
	open := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(seed.OptValue(kgo.SeedBrokers).([]string)...), kgo.WithHooks(hook))
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		return cl
	}
	registered := func() bool {
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			if f.GetName() == "loyaltyhooks_kafka_connects_total" {
				return true
			}
		}
		return false
	}
	a, b := open(), open()
	if !registered() {
		t.Error("two clients open: no loyaltyhooks_kafka_connects_total")
	}
	a.Close()
	if !registered() {
		t.Error("one client still open: the metrics are gone")
	}
	b.Close()
	if registered() {
		t.Error("every client closed: the metrics are still registered")
	}
	c := open()
	defer c.Close()
	if !registered() {
		t.Error("a client opened after all closed: no metrics")
	}
}
