package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/ops"
	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
	"github.com/loyaltyhooks/loyaltyhooks/processor"
	"github.com/loyaltyhooks/loyaltyhooks/processor/claim"
	"github.com/loyaltyhooks/loyaltyhooks/topology"
)

// runMainEnv makes the test binary run main() instead of the tests: the operations test starts
// it as a child process so that it can send it a real SIGTERM.
const runMainEnv = "LOYALTYHOOKS_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// produceFixture writes every change record of testdata/e2e/changes.jsonl.
func produceFixture(ctx context.Context, t *testing.T, cl *kgo.Client) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "e2e", "changes.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var l fixtureLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		if l.Wait {
			continue
		}
		r := &kgo.Record{Topic: l.Topic, Key: compact(t, l.Key), Value: recordValue(t, l.Value)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// logLine is one line a child process wrote to stderr, which must be a JSON log record.
type logLine struct {
	Time  string `json:"time"`
	Level string `json:"level"`
	Msg   string `json:"msg"`
	Addr  string `json:"addr"`
}

// TestProcessOperations runs `loyaltyhooks process` as a real child process and checks what an
// operator relies on: JSON logs, the metrics ARCHITECTURE.md names plus franz-go's client
// metrics and the group's lag, readiness that follows Redis, and a clean exit on SIGTERM that
// leaves the consumer group with every processed change committed.
func TestProcessOperations(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	redis := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cfg := config.Defaults()
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := topology.Apply(ctx, adm, topology.FromConfig(cfg), false); err != nil {
		t.Fatal(err)
	}

	child := exec.CommandContext(ctx, os.Args[0], "process")
	child.Env = append(os.Environ(),
		runMainEnv+"=1",
		"LOYALTYHOOKS_KAFKA_BROKERS="+strings.Join(cfg.Kafka.Brokers, ","),
		"LOYALTYHOOKS_REDIS_URL="+redis.URL(),
		"LOYALTYHOOKS_PROCESSOR_INSTANCEID=ops-0",
		"LOYALTYHOOKS_KAFKA_SESSIONTIMEOUT=6s",
		"LOYALTYHOOKS_KAFKA_REBALANCETIMEOUT=3s",
		"LOYALTYHOOKS_METRICS_ADDR=127.0.0.1:0",
		"LOYALTYHOOKS_LOG_LEVEL=info",
		"LOYALTYHOOKS_LOG_FORMAT=json",
	)
	stderr, err := child.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan string, 1)
	var logs []logLine
	var notJSON []string
	var logsDone sync.WaitGroup
	logsDone.Go(func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var l logLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Time == "" || l.Level == "" || l.Msg == "" {
				notJSON = append(notJSON, sc.Text())
				continue
			}
			logs = append(logs, l)
			if l.Msg == "operations server listening" {
				addrs <- l.Addr
			}
		}
	})
	var base string
	select {
	case addr := <-addrs:
		base = "http://" + addr
	case <-ctx.Done():
		t.Fatal("the process never logged its operations address")
	}

	produceFixture(ctx, t, cl)
	waitCommitted(ctx, t, cl, cfg.Processor.Group)

	// Everything is committed, so partitions are assigned and both services answer.
	if code, body := httpGet(t, base+"/readyz"); code != http.StatusOK || body != "processor: ok\nbroker: ok\nredis: ok\n" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	if code, body := httpGet(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d %q", code, body)
	}
	_, metrics := httpGet(t, base+"/metrics")
	for _, name := range []string{
		"loyaltyhooks_processor_records_consumed_total{",
		"loyaltyhooks_processor_events_produced_total{trigger=\"CustomerRegistered\"}",
		"loyaltyhooks_processor_duplicates_dropped_total ",
		"loyaltyhooks_processor_dead_letters_total{reason=",
		"loyaltyhooks_processor_batch_seconds_bucket{",
		"loyaltyhooks_processor_cdc_lag_seconds ",
		"loyaltyhooks_processor_rebalances_total{change=\"assigned\"}",
		"loyaltyhooks_processor_assigned_partitions " + strconv.Itoa(processorPartitions(cfg)),
		"loyaltyhooks_consumer_lag{group=\"loyaltyhooks-processor\",partition=",
		"loyaltyhooks_kafka_connects_total{",
		"loyaltyhooks_kafka_produce_bytes_total{",
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(metrics, "\n"+name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	redis.Stop()
	if code, body := httpGet(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "redis: unreachable") {
		t.Errorf("/readyz with Redis stopped = %d %q", code, body)
	}

	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := child.Wait(); err != nil {
		t.Errorf("process after SIGTERM: %v (want exit status 0)", err)
	}
	logsDone.Wait()
	if testing.Verbose() {
		t.Log(metrics)
	}
	if len(notJSON) > 0 {
		t.Errorf("stderr lines that are not JSON log records:\n%s", strings.Join(notJSON, "\n"))
	}
	if len(logs) == 0 {
		t.Error("no log records")
	}
	groups, err := adm.DescribeGroups(ctx, cfg.Processor.Group)
	if err != nil {
		t.Fatal(err)
	}
	if g := groups[cfg.Processor.Group]; g.State != "Empty" || len(g.Members) != 0 {
		t.Errorf("after SIGTERM the group is %s with %d members, want Empty: the process must leave it", g.State, len(g.Members))
	}
}

// processorPartitions counts the partitions of every topic the processor reads: all of them are
// this single instance's.
func processorPartitions(cfg config.Config) int {
	n := 0
	for _, tp := range topology.FromConfig(cfg).Topics {
		if slices.Contains(tp.Readers, topology.Processor) {
			n += int(tp.Partitions)
		}
	}
	return n
}

func httpGet(t *testing.T, url string) (int, string) {
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

// heldClaimer claims through Redis but holds the first batch until released, so that the test
// can ask the processor to stop while a batch is in flight.
type heldClaimer struct {
	claim.Claimer
	inFlight chan []claim.Claim
	release  chan struct{}
	once     sync.Once
}

func (h *heldClaimer) Claim(ctx context.Context, claims []claim.Claim) error {
	err := h.Claimer.Claim(ctx, claims)
	h.once.Do(func() {
		h.inFlight <- claims
		<-h.release
	})
	return err
}

// On shutdown the processor stops polling, finishes the batch in hand, commits it and leaves the
// group, all within its budget: the signal arrives while a batch is between claim and produce,
// and that batch's events still land in the webhook topic.
func TestShutdownFinishesTheBatch(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	redis := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cfg := config.Defaults()
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cfg.Kafka.SessionTimeout = 6 * time.Second
	cfg.Kafka.RebalanceTimeout = 3 * time.Second
	cfg.Redis.URL = redis.URL()
	cfg.Processor.InstanceID = "shutdown-0"
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := topology.Apply(ctx, adm, topology.FromConfig(cfg), false); err != nil {
		t.Fatal(err)
	}
	held := &heldClaimer{
		Claimer:  claim.NewRedis(redis.Client(), cfg.Redis.KeyPrefix, cfg.Processor.DedupTTL),
		inFlight: make(chan []claim.Claim, 1),
		release:  make(chan struct{}),
	}
	p, err := processor.New(ctx, cfg, processor.WithClaimer(held), processor.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ops.RunWithin(runCtx, cfg.Processor.ShutdownTimeout, p.Run) }()

	produceFixture(ctx, t, cl)
	var batch []claim.Claim
	select {
	case batch = <-held.inFlight:
	case <-ctx.Done():
		t.Fatal("no batch reached the claimer")
	}
	stop() // what SIGTERM does in main
	close(held.release)
	if err := <-done; err != nil {
		t.Fatalf("Run after shutdown: %v", err)
	}

	want := map[string]bool{}
	for _, c := range batch {
		if c.Emit {
			want[c.MessageID] = true
		}
	}
	if len(want) == 0 {
		t.Fatal("the held batch emits no event; the fixture should make it emit some")
	}
	got := committedMessageIDs(ctx, t, cfg.Kafka.Brokers)
	for id := range want {
		if !got[id] {
			t.Errorf("event %s of the batch in flight at shutdown was not committed", id)
		}
	}
	groups, err := adm.DescribeGroups(ctx, cfg.Processor.Group)
	if err != nil {
		t.Fatal(err)
	}
	if g := groups[cfg.Processor.Group]; g.State != "Empty" {
		t.Errorf("group is %s after shutdown, want Empty", g.State)
	}
	committed, err := adm.FetchOffsets(ctx, cfg.Processor.Group)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range batch {
		o, ok := committed.Lookup(c.Topic, c.Partition)
		if !ok || o.At <= c.Offset {
			t.Errorf("%s/%d@%d was in the finished batch but the committed offset is %v", c.Topic, c.Partition, c.Offset, o.At)
		}
	}
}

// committedMessageIDs runs `loyaltyhooks tail`, which prints the committed events of the webhook
// topic and exits at its end, and returns their message ids.
func committedMessageIDs(ctx context.Context, t *testing.T, brokers []string) map[string]bool {
	t.Helper()
	t.Setenv("LOYALTYHOOKS_KAFKA_BROKERS", strings.Join(brokers, ","))
	var out bytes.Buffer
	if err := runCLI(ctx, &out, "tail"); err != nil {
		t.Fatalf("tail: %v", err)
	}
	ids := map[string]bool{}
	for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		var l struct {
			Event struct {
				MessageID string `json:"messageId"`
			} `json:"event"`
		}
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("tail printed %q: %v", line, err)
		}
		ids[l.Event.MessageID] = true
	}
	return ids
}
