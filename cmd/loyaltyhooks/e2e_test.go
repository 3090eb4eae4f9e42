package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/ops"
	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
	"github.com/loyaltyhooks/loyaltyhooks/topology"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixtureLine is one line of testdata/e2e/changes.jsonl: a record as another client (kcat, say)
// would produce it, or a pause until the processor has committed everything before it.
type fixtureLine struct {
	Wait  bool            `json:"wait"`
	Topic string          `json:"topic"`
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
}

// TestProcessAndTail drives the CLI as a user would: Debezium JSON written by a plain producer
// into the change topics, `loyaltyhooks process` configured only by environment variables, and
// `loyaltyhooks tail` printing exactly the events the contract specifies.
func TestProcessAndTail(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	redis := redistest.Start(t)
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	t.Setenv("LOYALTYHOOKS_KAFKA_BROKERS", brokers)
	t.Setenv("LOYALTYHOOKS_REDIS_URL", redis.URL())
	t.Setenv("LOYALTYHOOKS_PROCESSOR_INSTANCEID", "e2e-1")
	t.Setenv("LOYALTYHOOKS_KAFKA_SESSIONTIMEOUT", "6s")
	t.Setenv("LOYALTYHOOKS_KAFKA_REBALANCETIMEOUT", "3s")
	t.Setenv("LOYALTYHOOKS_METRICS_ADDR", "127.0.0.1:0")
	t.Setenv("LOYALTYHOOKS_LOG_LEVEL", "warn")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// The change topics exist before anything is written to them, as Debezium would make them.
	if _, err := topology.CreateMissing(ctx, kadm.NewClient(cl), topology.FromConfig(cfg)); err != nil {
		t.Fatal(err)
	}

	procCtx, stopProc := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var procErr error
	wg.Go(func() { procErr = runCLI(procCtx, nil, "process", "--create-topics") })

	f, err := os.Open(filepath.Join("testdata", "e2e", "changes.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l fixtureLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("fixture line %q: %v", sc.Text(), err)
		}
		if l.Wait {
			waitCommitted(ctx, t, cl, cfg.Processor.Group)
			continue
		}
		r := &kgo.Record{Topic: l.Topic, Key: compact(t, l.Key), Value: recordValue(t, l.Value)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	waitCommitted(ctx, t, cl, cfg.Processor.Group)
	stopProc()
	wg.Wait()
	if procErr != nil {
		t.Fatalf("process: %v", procErr)
	}

	var out bytes.Buffer
	if err := runCLI(ctx, &out, "tail"); err != nil {
		t.Fatalf("tail: %v", err)
	}
	checkGolden(t, filepath.Join("testdata", "e2e", "tail.golden.jsonl"), normalizeTail(t, out.Bytes()))

	out.Reset()
	t.Setenv("LOYALTYHOOKS_TOPICS_WEBHOOKS", cfg.Topics.CDCDeadLetter)
	if err := runCLI(ctx, &out, "tail"); err != nil {
		t.Fatalf("tail of the dead-letter topic: %v", err)
	}
	if n := strings.Count(out.String(), "\n"); n != 1 || !strings.Contains(out.String(), `"key":"{\"member_id\":\"bad\"}"`) {
		t.Errorf("dead-letter topic holds %d records:\n%s", n, out.String())
	}
}

// runCLI runs the command line in-process with the test's environment.
func runCLI(ctx context.Context, stdout *bytes.Buffer, args ...string) error {
	cmd := newRootCommand()
	cmd.SetArgs(args)
	if stdout != nil {
		cmd.SetOut(stdout)
	}
	return cmd.ExecuteContext(ctx)
}

func compact(t *testing.T, raw json.RawMessage) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// recordValue is the value bytes of a fixture: JSON null is a tombstone, a JSON string is the
// raw bytes it holds (for records that are not JSON at all), anything else the compact JSON.
func recordValue(t *testing.T, raw json.RawMessage) []byte {
	t.Helper()
	switch {
	case string(raw) == "null":
		return nil
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		return []byte(s)
	}
	return compact(t, raw)
}

func waitCommitted(ctx context.Context, t *testing.T, cl *kgo.Client, group string) {
	t.Helper()
	if err := ops.WaitCaughtUp(ctx, kadm.NewClient(cl), group, 50*time.Millisecond); err != nil {
		t.Fatalf("processor did not commit every change: %v", err)
	}
}

// normalizeTail drops offsets — they depend on how batches happened to interleave partitions —
// and orders lines by message id, so the golden file holds only what the contract fixes.
func normalizeTail(t *testing.T, out []byte) []byte {
	t.Helper()
	type line struct {
		id   string
		text []byte
	}
	var lines []line
	for _, l := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(l))
		dec.UseNumber() // keep decimals as the exact text tail printed
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("tail printed a line that is not JSON: %s: %v", l, err)
		}
		if m["offset"] == nil {
			t.Fatalf("tail line without offset: %s", l)
		}
		delete(m, "offset")
		ev, _ := m["event"].(map[string]any)
		id, _ := ev["messageId"].(string)
		b, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line{id, b})
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i].id < lines[j].id })
	var b bytes.Buffer
	for _, l := range lines {
		b.Write(l.text)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
