package sender_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/debezium"
	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
	"github.com/loyaltyhooks/loyaltyhooks/sender"
)

// childEnv makes the test binary run a sender configured by LOYALTYHOOKS_* variables, so a test
// can kill it as a crash would: no revoke, no commit, no goodbye.
const childEnv = "SENDER_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

func runChild() int {
	cfg, err := config.Load("", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s, err := sender.New(cfg, sender.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := s.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

const (
	tenantID       = "6f1c1a52-3c1e-4b8e-9d1e-0a0000000001"
	subscriptionID = "a1b2c3d4-0000-4000-8000-000000000001"
)

// subscribeInTable writes the DEFAULT tenant and one webhook_subscription row pointing at url
// to their change topics, as Debezium would.
func (e *env) subscribeInTable(url string, active bool) {
	e.t.Helper()
	enc, err := debezium.NewEncoder(debezium.Options{Format: debezium.JSON, DecimalMode: debezium.DecimalString, Source: e.cfg.Source})
	if err != nil {
		e.t.Fatal(err)
	}
	row := func(cols ...cdc.Column) *cdc.Row { return &cdc.Row{Columns: cols} }
	str := cdc.StringValue
	src := cdc.Source{TsMs: 1767225600000, Snapshot: "false", DB: "loyalty", Schema: "public", LSN: 1}
	for _, ch := range []*cdc.Change{
		{Table: "tenant", Op: cdc.OpRead, Source: src, After: row(
			cdc.Column{Name: "tenant_id", Value: str(tenantID)}, cdc.Column{Name: "code", Value: str("DEFAULT")})},
		{Table: "webhook_subscription", Op: cdc.OpCreate, Source: src, After: row(
			cdc.Column{Name: "subscription_id", Value: str(subscriptionID)},
			cdc.Column{Name: "tenant_id", Value: str(tenantID)},
			cdc.Column{Name: "event_name", Value: str("CustomerDeactivated")},
			cdc.Column{Name: "url", Value: str(url)},
			cdc.Column{Name: "destination_type", Value: str("rest")},
			cdc.Column{Name: "headers", Value: cdc.JSONValue(`[{"headerName":"X-Store","headerValue":"DEFAULT"}]`)},
			cdc.Column{Name: "hmac_enabled", Value: cdc.BoolValue(true)},
			cdc.Column{Name: "hmac_secret", Value: str(newSecret)},
			cdc.Column{Name: "active", Value: cdc.BoolValue(active)})},
	} {
		topic, key, value, err := enc.Encode(context.Background(), ch)
		if err != nil {
			e.t.Fatal(err)
		}
		if err := e.cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Key: key, Value: value}).FirstErr(); err != nil {
			e.t.Fatal(err)
		}
	}
}

// childEnvironment is the configuration of e as environment variables.
func (e *env) childEnvironment() []string {
	c := e.cfg
	return append(os.Environ(), childEnv+"=1",
		"LOYALTYHOOKS_KAFKA_BROKERS="+c.Kafka.Brokers[0],
		"LOYALTYHOOKS_KAFKA_SESSIONTIMEOUT="+c.Kafka.SessionTimeout.String(),
		"LOYALTYHOOKS_KAFKA_REBALANCETIMEOUT="+c.Kafka.RebalanceTimeout.String(),
		"LOYALTYHOOKS_REDIS_URL="+c.Redis.URL,
		"LOYALTYHOOKS_REDIS_KEYPREFIX="+c.Redis.KeyPrefix,
		"LOYALTYHOOKS_SENDER_INSTANCEID=child",
		"LOYALTYHOOKS_SENDER_ALLOWEDCIDRS=127.0.0.1/32",
		"LOYALTYHOOKS_SENDER_RETRYDELAYS=5s",
		"LOYALTYHOOKS_SENDER_COMMITINTERVAL="+c.Sender.CommitInterval.String(),
		"LOYALTYHOOKS_LOG_LEVEL=warn",
	)
}

// A sender killed while a delivery is in flight, after it delivered the rest but before it
// committed anything, is replaced by one that reads everything again: the delivery cut short is
// made again, and nothing already delivered is sent twice.
func TestCrashMidDeliveryLosesAndRepeatsNothing(t *testing.T) { crashMidDelivery(t, "") }

// TestCrashMidDeliveryOnRedisCluster is the same with the delivered memory on a real three-node
// Redis Cluster.
func TestCrashMidDeliveryOnRedisCluster(t *testing.T) {
	crashMidDelivery(t, redistest.StartCluster(t, 3).URL())
}

// crashMidDelivery runs the crash with Redis at redisURL ("": a private redis-server).
func crashMidDelivery(t *testing.T, redisURL string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const events, cut = 20, 107
	var mu sync.Mutex
	acked := map[string]int{}
	held := make(chan struct{})
	var holdOnce sync.Once
	rc := newReceiver(t, func(_ int, r *http.Request, w http.ResponseWriter) {
		id := r.Header.Get("webhook-id")
		first := false
		if id == messageID(cut) {
			holdOnce.Do(func() { first = true })
		}
		if first {
			close(held)
			<-r.Context().Done() // until the sender dies mid-request
			return
		}
		w.WriteHeader(http.StatusOK)
		mu.Lock()
		acked[id]++
		mu.Unlock()
	})
	e := newEnv(t, func(c *config.Config) { c.Sender.CommitInterval, c.Redis.URL = time.Hour, redisURL })
	e.subscribeInTable(rc.URL+"/hooks", true)
	for i := range events {
		e.publish(event(100 + i))
	}

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = e.childEnvironment()
	var stderr bytes.Buffer
	child.Stderr = &stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = child.Process.Kill()
		_ = child.Wait()
	})
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatalf("the delivery to cut short never arrived; child stderr:\n%s", stderr.String())
	}
	// Kill once every other delivery is remembered and the groups are stable (PITFALLS: a member
	// killed during a join can stall a kfake group).
	waitFor(ctx, t, "19 deliveries remembered", func() bool {
		n, err := e.remembered(ctx)
		return err == nil && n == events-1
	})
	adm := kadm.NewClient(e.cl)
	waitFor(ctx, t, "stable groups", func() bool {
		groups, err := adm.DescribeGroups(ctx, e.cfg.Sender.Group, e.cfg.Sender.Group+".5s")
		if err != nil {
			return false
		}
		for _, g := range groups {
			if g.State != "Stable" {
				return false
			}
		}
		return true
	})
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()

	s, stop := e.start(ctx)
	waitFor(ctx, t, "the cut delivery made again", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return acked[messageID(cut)] == 1
	})
	stop()

	mu.Lock()
	defer mu.Unlock()
	for i := range events {
		if n := acked[messageID(100+i)]; n != 1 {
			t.Errorf("event %d acknowledged %d times, want once", 100+i, n)
		}
	}
	if got := len(rc.requests()); got != events+1 {
		t.Errorf("%d requests, want %d: one per event plus the one cut short", got, events+1)
	}
	if skipped := testutilValue(s.Metrics().Skipped.WithLabelValues("already_delivered")); skipped != events-1 {
		t.Errorf("the second sender skipped %v as delivered, want %d", skipped, events-1)
	}
	for _, r := range rc.requests() {
		if r.header.Get("X-Store") != "DEFAULT" {
			t.Errorf("custom header of the table subscription missing: %v", r.header)
		}
		verifySignatures(t, r, newSecret)
	}
}

// remembered counts the deliveries the senders' memory holds, on every node of a cluster.
func (e *env) remembered(ctx context.Context) (int64, error) {
	var n atomic.Int64
	count := func(ctx context.Context, c *redis.Client) error {
		keys, err := c.Keys(ctx, e.cfg.Redis.KeyPrefix+"sender:delivered:*").Result()
		if err != nil {
			return err
		}
		for _, k := range keys {
			l, err := c.HLen(ctx, k).Result()
			if err != nil {
				return err
			}
			n.Add(l)
		}
		return nil
	}
	var err error
	switch c := e.rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, count)
	case *redis.Client:
		err = count(ctx, c)
	default:
		err = fmt.Errorf("redis client %T", e.rdb)
	}
	return n.Load(), err
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}
