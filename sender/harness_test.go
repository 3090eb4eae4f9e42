package sender_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
	"github.com/loyaltyhooks/loyaltyhooks/sender"
	"github.com/loyaltyhooks/loyaltyhooks/topology"
)

// env is one in-process broker, one private redis-server (or the Redis configure names) and a
// configuration pointing at both,
// with the topology created.
type env struct {
	t      testing.TB
	cfg    config.Config
	cl     *kgo.Client
	rdb    redis.UniversalClient // a client of the Redis cfg names: one server or a cluster
	codec  *schemas.Codec
	writer *schemas.Writer
}

func quietLog() *slog.Logger {
	if os.Getenv("SENDER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newEnv(t testing.TB, configure func(*config.Config)) *env {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)

	cfg := config.Defaults()
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cfg.Kafka.SessionTimeout = 3 * time.Second
	cfg.Kafka.RebalanceTimeout = time.Second
	cfg.Redis.URL = "" // a private redis-server, unless configure names another Redis
	cfg.Redis.KeyPrefix = "it:"
	cfg.Processor.InstanceID = "it"
	cfg.Topology.WebhookPartitions = 3
	cfg.Sender.InstanceID = "it-1"
	cfg.Sender.RetryDelays = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute}
	cfg.Sender.RetryJitter = 0
	cfg.Sender.AllowedCIDRs = []string{"127.0.0.1/32"}
	cfg.Sender.CommitInterval = 100 * time.Millisecond
	cfg.Sender.ShutdownTimeout = 5 * time.Second
	if configure != nil {
		configure(&cfg)
	}
	if cfg.Redis.URL == "" {
		cfg.Redis.URL = redistest.Start(t).URL()
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if _, err := topology.CreateMissing(context.Background(), kadm.NewClient(cl), topology.FromConfig(cfg)); err != nil {
		t.Fatal(err)
	}
	codec, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	writer, err := schemas.NewWriter(context.Background(), codec, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := connect.Redis(cfg.Redis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return &env{t: t, cfg: cfg, cl: cl, rdb: rdb, codec: codec, writer: writer}
}

func memberID(i int) string  { return fmt.Sprintf("5d2c3a10-7b8e-4f5a-9c1d-%012d", i) }
func messageID(i int) string { return fmt.Sprintf("8d4e7a1c-3b2f-4f6a-9c1d-%012d", i) }

// event is the i-th CustomerDeactivated event of the store DEFAULT.
func event(i int) *schemas.Event {
	return &schemas.Event{
		MessageID: messageID(i),
		EventName: "CustomerDeactivated",
		StoreCode: "DEFAULT",
		CreatedAt: time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
		Data: map[string]any{"customer": map[string]any{
			"customerId": memberID(i), "email": fmt.Sprintf("member%d@example.com", i),
		}},
		Source: schemas.Source{Topic: "loyalty.public.member", Partition: 0, Offset: int64(i), Table: "member", Op: "u"},
	}
}

// publish writes events to the webhook topic as the processor does.
func (e *env) publish(evs ...*schemas.Event) {
	e.t.Helper()
	var recs []*kgo.Record
	for _, ev := range evs {
		value, err := e.writer.Encode(nil, ev)
		if err != nil {
			e.t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{
			Topic: e.cfg.Topics.Webhooks, Key: []byte(ev.Data["customer"].(map[string]any)["customerId"].(string)), Value: value,
			Headers: []kgo.RecordHeader{
				{Key: "event-name", Value: []byte(ev.EventName)},
				{Key: "message-id", Value: []byte(ev.MessageID)},
				{Key: "store-code", Value: []byte(ev.StoreCode)},
			},
		})
	}
	if err := e.cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

// start runs a sender until the test ends (or stop is called) and returns it.
func (e *env) start(ctx context.Context, opts ...sender.Option) (s *sender.Sender, stop func()) {
	e.t.Helper()
	s, err := sender.New(e.cfg, append([]sender.Option{sender.WithLogger(quietLog())}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("sender: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	return s, stop
}

// readAll returns every record of topic, reading until it has want of them or ctx ends.
func (e *env) readAll(ctx context.Context, topic string, want int) []*kgo.Record {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cfg.Kafka.Brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			e.t.Fatalf("%s: %d records, want %d: %v", topic, len(out), want, ctx.Err())
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// request is one request a receiver got.
type request struct {
	header http.Header
	body   []byte
	path   string
}

// receiver is a real HTTP server on 127.0.0.1 that records every request and answers with
// what respond says (200 when respond is nil).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []request
	arrived chan request
	respond func(n int, r *http.Request, w http.ResponseWriter) // n counts requests from 1
}

func newReceiver(t *testing.T, respond func(n int, r *http.Request, w http.ResponseWriter)) *receiver {
	rc := &receiver{arrived: make(chan request, 1000), respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := request{header: r.Header.Clone(), body: body, path: r.URL.Path}
	rc.mu.Lock()
	rc.got = append(rc.got, req)
	n := len(rc.got)
	rc.mu.Unlock()
	rc.arrived <- req
	if rc.respond != nil {
		rc.respond(n, r, w)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// next waits for the next request.
func (rc *receiver) next(ctx context.Context, t *testing.T) request {
	t.Helper()
	select {
	case r := <-rc.arrived:
		return r
	case <-ctx.Done():
		t.Fatalf("no request arrived: %v", ctx.Err())
		return request{}
	}
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.got...)
}

// fakeClock is the sender's clock in tests: time moves only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	added  chan struct{}
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, added: make(chan struct{}, 1)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	tm := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, tm)
	select {
	case c.added <- struct{}{}:
	default:
	}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !tm.stopped
		tm.stopped = true
		return was
	}
}

// nextTimer waits until a timer is pending and returns when it is due.
func (c *fakeClock) nextTimer(ctx context.Context, t *testing.T) time.Time {
	t.Helper()
	for {
		c.mu.Lock()
		var first *fakeTimer
		for _, tm := range c.timers {
			if !tm.stopped && (first == nil || tm.at.Before(first.at)) {
				first = tm
			}
		}
		c.mu.Unlock()
		if first != nil {
			return first.at
		}
		select {
		case <-c.added:
		case <-ctx.Done():
			t.Fatalf("no timer was set: %v", ctx.Err())
		}
	}
}

// advanceTo moves the clock to at and fires the timers due by then.
func (c *fakeClock) advanceTo(at time.Time) {
	c.mu.Lock()
	c.now = at
	var due []*fakeTimer
	kept := c.timers[:0]
	for _, tm := range c.timers {
		switch {
		case tm.stopped:
		case !tm.at.After(at):
			tm.stopped = true
			due = append(due, tm)
		default:
			kept = append(kept, tm)
		}
	}
	c.timers = kept
	c.mu.Unlock()
	for _, tm := range due {
		go tm.f()
	}
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func mustDecode(t *testing.T, e *env, value []byte) *schemas.Event {
	t.Helper()
	ev, err := schemas.NewReader(e.codec, nil).Decode(value)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// jsonField returns a string field of a JSON object.
func jsonField(t *testing.T, body []byte, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	s, _ := m[name].(string)
	return s
}

func testutilValue(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }

// lockedBuffer collects log output written from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
