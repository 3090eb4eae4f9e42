package processor_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/debezium"
	"github.com/loyaltyhooks/loyaltyhooks/internal/ops"
	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
	"github.com/loyaltyhooks/loyaltyhooks/processor"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
	"github.com/loyaltyhooks/loyaltyhooks/topology"
)

const (
	tenantID = "6f1c1a52-3c1e-4b8e-9d1e-0a0000000001"
	bronze   = "7a000000-0000-4000-8000-000000000001"
	silver   = "7a000000-0000-4000-8000-000000000002"
	memberID = "5d2c3a10-7b8e-4f5a-9c1d-000000000001"
	walletID = "9e000000-0000-4000-8000-000000000001"
)

// env is one broker, one private redis-server and a configuration pointing at both.
type env struct {
	t       *testing.T
	cfg     config.Config
	cl      *kgo.Client
	enc     *debezium.Encoder
	lsn     int64
	cluster *kfake.Cluster
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, redistest.Start(t).URL())
}

// newEnvOn is newEnv with its Redis at redisURL: a Redis Cluster, for one.
func newEnvOn(t *testing.T, redisURL string) *env {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)

	cfg := config.Defaults()
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cfg.Kafka.SessionTimeout = 6 * time.Second
	cfg.Kafka.RebalanceTimeout = 3 * time.Second
	cfg.Redis.URL = redisURL
	cfg.Redis.KeyPrefix = "it:"
	cfg.Processor.InstanceID = "it-1"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx := context.Background()
	if _, err := topology.CreateMissing(ctx, kadm.NewClient(cl), topology.FromConfig(cfg)); err != nil {
		t.Fatal(err)
	}
	enc, err := debezium.NewEncoder(debezium.Options{Format: debezium.JSON, DecimalMode: "string", Source: cfg.Source})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, cfg: cfg, cl: cl, enc: enc, lsn: 1000, cluster: cluster}
}

func row(cols ...any) *cdc.Row {
	r := &cdc.Row{}
	for i := 0; i < len(cols); i += 2 {
		var v cdc.Value
		switch x := cols[i+1].(type) {
		case string:
			v = cdc.StringValue(x)
		case bool:
			v = cdc.BoolValue(x)
		case int:
			v = cdc.IntValue(int64(x))
		case cdc.Value:
			v = x
		case nil:
		default:
			panic(fmt.Sprintf("row: unsupported %T", x))
		}
		r.Columns = append(r.Columns, cdc.Column{Name: cols[i].(string), Value: v})
	}
	return r
}

// change produces one Debezium JSON change record and returns it, placed.
func (e *env) change(table string, op cdc.Op, key string, before, after *cdc.Row) *kgo.Record {
	e.t.Helper()
	return e.produce(e.record(table, op, key, before, after))
}

// record encodes one Debezium JSON change record, the next in the log, without producing it.
func (e *env) record(table string, op cdc.Op, key string, before, after *cdc.Row) *kgo.Record {
	e.t.Helper()
	e.lsn += 8
	ch := &cdc.Change{Table: table, Op: op, Before: before, After: after,
		Key:    row(keyColumn(table), key),
		Source: cdc.Source{TsMs: 1767225600000 + e.lsn, Snapshot: "false", DB: "loyalty", Schema: "public", Table: table, TxID: e.lsn / 8, LSN: e.lsn},
		TsMs:   1767225600100 + e.lsn}
	if op == cdc.OpRead {
		ch.Source.Snapshot = "true"
	}
	topic, k, v, err := e.enc.Encode(context.Background(), ch)
	if err != nil {
		e.t.Fatalf("encode %s change: %v", table, err)
	}
	return &kgo.Record{Topic: topic, Key: k, Value: v}
}

// produce writes a record and returns it with its partition and offset.
func (e *env) produce(r *kgo.Record) *kgo.Record {
	e.t.Helper()
	if err := e.cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
	return r
}

func keyColumn(table string) string {
	switch table {
	case "member_code":
		return "code_id"
	case "unit_transfer":
		return "transfer_id"
	case "issued_reward":
		return "issued_reward_id"
	case "campaign_effect_result":
		return "effect_result_id"
	case "settings":
		return "tenant_id"
	}
	return table + "_id"
}

// runInBackground runs run until the returned stop is called; stop waits for it to return and
// fails the test on its error.
func runInBackground(ctx context.Context, tb testing.TB, run func(context.Context) error) (stop func()) {
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() { runErr = run(runCtx) })
	return func() {
		tb.Helper()
		cancel()
		wg.Wait()
		if runErr != nil {
			tb.Fatal(runErr)
		}
	}
}

// run starts a processor on the env, its log discarded; see runInBackground for stop.
func (e *env) run(ctx context.Context) (p *processor.Processor, stop func()) {
	e.t.Helper()
	p, err := processor.New(ctx, e.cfg, processor.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		e.t.Fatal(err)
	}
	return p, runInBackground(ctx, e.t, p.Run)
}

// caughtUp waits until the processor's group has committed every change record.
func (e *env) caughtUp(ctx context.Context) {
	e.t.Helper()
	if err := ops.WaitCaughtUp(ctx, kadm.NewClient(e.cl), e.cfg.Processor.Group, 50*time.Millisecond); err != nil {
		e.t.Fatalf("processor did not catch up: %v", err)
	}
}

// committed reads every committed record of a topic.
func (e *env) committed(ctx context.Context, topic string) []*kgo.Record {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cfg.Kafka.Brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		e.t.Fatal(err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	var out []*kgo.Record
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			e.t.Fatalf("read %s: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset+1 >= remaining[r.Partition] {
				delete(remaining, r.Partition)
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}

func TestProcessorEndToEnd(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	_, stop := e.run(ctx)

	// The snapshot feeds the lookups and fires nothing.
	e.change("tenant", cdc.OpRead, tenantID, nil, row("tenant_id", tenantID, "code", "DEFAULT", "name", "Default store"))
	e.change("tier", cdc.OpRead, bronze, nil, row("tier_id", bronze, "tenant_id", tenantID, "name", "Bronze", "rank", 1))
	e.change("tier", cdc.OpRead, silver, nil, row("tier_id", silver, "tenant_id", tenantID, "name", "Silver", "rank", 2))
	e.caughtUp(ctx)

	member := func(email, level string, active bool) *cdc.Row {
		return row("member_id", memberID, "tenant_id", tenantID, "active", active, "first_name", "Ada",
			"last_name", "Lovelace", "email", email, "level_id", level)
	}
	e.change("member", cdc.OpCreate, memberID, nil, member("ada@example.com", bronze, true))
	e.change("member", cdc.OpUpdate, memberID, member("ada@example.com", bronze, true), member("ada@example.org", bronze, true))
	e.change("member", cdc.OpUpdate, memberID, member("ada@example.org", bronze, true), member("ada@example.org", silver, true))
	e.caughtUp(ctx)
	e.change("member_code", cdc.OpCreate, "c-1", nil, row("code_id", "c-1", "tenant_id", tenantID, "member_id", memberID,
		"purpose", "registration", "code", "tok", "code_number", "123456"))
	e.change("wallet", cdc.OpCreate, walletID, nil, row("wallet_id", walletID, "tenant_id", tenantID, "member_id", memberID,
		"wallet_type_code", "default", "active_units", cdc.DecimalValue("100.5")))
	// Poison, a tombstone and a snapshot row in between: one dead letter, nothing else.
	e.produce(&kgo.Record{Topic: e.cfg.Source.Topic("member"), Key: []byte(`{"member_id":"x"}`), Value: []byte("not json"),
		Headers: []kgo.RecordHeader{{Key: "origin", Value: []byte("test")}}})
	e.produce(&kgo.Record{Topic: e.cfg.Source.Topic("member"), Key: []byte(`{"member_id":"x"}`)})
	e.change("member", cdc.OpRead, memberID, nil, member("ada@example.org", silver, true))
	e.change("member", cdc.OpDelete, memberID, member("ada@example.org", silver, true), nil)
	e.caughtUp(ctx)
	stop()

	codec, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	reader := schemas.NewReader(codec, nil)
	var got []string
	for _, r := range e.committed(ctx, e.cfg.Topics.Webhooks) {
		ev, err := reader.Decode(r.Value)
		if err != nil {
			t.Fatalf("webhook record %d/%d: %v", r.Partition, r.Offset, err)
		}
		if processor.Header(r, processor.HeaderEventName) != ev.EventName || processor.Header(r, processor.HeaderMessageID) != ev.MessageID ||
			processor.Header(r, processor.HeaderStoreCode) != "DEFAULT" || ev.StoreCode != "DEFAULT" {
			t.Errorf("headers %v do not match event %s %s %q", r.Headers, ev.EventName, ev.MessageID, ev.StoreCode)
		}
		if string(r.Key) != memberID {
			t.Errorf("%s keyed %q, want the member id", ev.EventName, r.Key)
		}
		desc := ev.EventName
		if ev.EventName == "CustomerLevelChanged" {
			level := ev.Data["level"].(map[string]any)
			desc += fmt.Sprintf(" %v up=%v down=%v", level["name"], level["levelMoveUp"], level["levelMoveDown"])
		}
		got = append(got, desc)
	}
	sort.Strings(got)
	want := []string{
		"AvailablePointsAmountChanged",
		"CustomerLevelChanged Bronze up=false down=false",
		"CustomerLevelChanged Silver up=true down=false",
		"CustomerRegistered",
		"CustomerUpdated",
		"CustomerUpdated",
		"CustomerWasRegisteredWithoutActivation",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("webhook events:\n got %q\nwant %q", got, want)
	}

	dead := e.committed(ctx, e.cfg.Topics.CDCDeadLetter)
	if len(dead) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dead))
	}
	d := dead[0]
	if string(d.Value) != "not json" || processor.Header(d, "origin") != "test" || processor.Header(d, processor.HeaderDeadReason) != cdc.ReasonUndecodable ||
		processor.Header(d, processor.HeaderDeadTopic) != e.cfg.Source.Topic("member") || processor.Header(d, processor.HeaderDeadError) == "" {
		t.Errorf("dead letter: value %q headers %v", d.Value, d.Headers)
	}
}

// TestDuplicatesCountedOnceAfterAnAbort: a batch whose produce fails is aborted and polled again.
// The duplicate it drops, like the records it reads, is counted once, when the batch commits,
// not once per attempt.
func TestDuplicatesCountedOnceAfterAnAbort(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p, stop := e.run(ctx)

	member := func(email string) *cdc.Row {
		return row("member_id", memberID, "tenant_id", tenantID, "active", true, "first_name", "Ada",
			"last_name", "Lovelace", "email", email)
	}
	e.change("tenant", cdc.OpRead, tenantID, nil, row("tenant_id", tenantID, "code", "DEFAULT", "name", "Default store"))
	inserted := e.change("member", cdc.OpCreate, memberID, nil, member("ada@example.com"))
	e.caughtUp(ctx)

	// The processor's next produce fails, once: its only transactional writes are webhooks here.
	var failed atomic.Int32
	e.cluster.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.ProduceRequest)
		if req.TransactionID == nil { // the test's own producer; the processor's is transactional
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		failed.Add(1)
		return resp, nil, true
	})
	// Debezium redelivers the insert beside a new change; one produce, one partition (both keyed
	// by the member), so the processor reads them in one batch.
	copied := &kgo.Record{Topic: inserted.Topic, Key: inserted.Key, Value: inserted.Value}
	updated := e.record("member", cdc.OpUpdate, memberID, member("ada@example.com"), member("ada@example.org"))
	if err := e.cl.ProduceSync(ctx, copied, updated).FirstErr(); err != nil {
		t.Fatal(err)
	}
	e.caughtUp(ctx)
	stop()

	if n := failed.Load(); n != 1 {
		t.Fatalf("%d produce requests failed, want 1", n)
	}
	if n := counter(t, p.Metrics().TransactionsAborted.WithLabelValues("transient")); n != 1 {
		t.Fatalf("%v transactions aborted, want the batch with the copy", n)
	}
	if n := counter(t, p.Metrics().DuplicatesDropped); n != 1 {
		t.Errorf("%v duplicates dropped, want the copy counted once", n)
	}
	if n := counter(t, p.Metrics().RecordsConsumed.WithLabelValues("member")); n != 3 {
		t.Errorf("%v member records consumed, want the insert, its copy and the update counted once", n)
	}
	var got []string
	for _, r := range e.committed(ctx, e.cfg.Topics.Webhooks) {
		got = append(got, processor.Header(r, processor.HeaderEventName))
	}
	if want := []string{"CustomerRegistered", "CustomerUpdated"}; !slices.Equal(got, want) {
		t.Errorf("webhooks %v, want %v", got, want)
	}
}
