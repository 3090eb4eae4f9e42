package faultsuite

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
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

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/failpoint"
	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
	"github.com/loyaltyhooks/loyaltyhooks/topology"
)

// Timeouts the processors run with. kfake expires a member waiting in a join when its session
// timer runs out (PITFALLS.md), so the rebalance timeout stays well below the session timeout;
// the transaction timeout bounds how long a killed instance that is not restarted blocks its
// partitions.
const (
	sessionTimeout     = 6 * time.Second
	rebalanceTimeout   = 3 * time.Second
	transactionTimeout = 10 * time.Second
	keyPrefix          = "fs:"
	maxPollRecords     = 150
)

// buildDir holds the binaries built for this test run.
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "faultsuite-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// binary builds cmd/loyaltyhooks once per test run and build tag set ("" for the release build,
// "faultsuite" for the one with the test-only broken claimers) and returns its path.
func binary(t *testing.T, tags string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if path, ok := built[tags]; ok {
		return path
	}
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the fault suite builds loyaltyhooks with the go command: %v", err)
	}
	path := filepath.Join(buildDir, "loyaltyhooks"+strings.ReplaceAll("-"+tags, "-", "_"))
	args := []string{"build", "-o", path}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command(gotool, append(args, "github.com/loyaltyhooks/loyaltyhooks/cmd/loyaltyhooks")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build (tags %q): %v\n%s", tags, err, out)
	}
	built[tags] = path
	return path
}

// harness is one broker, one redis-server and the processor subprocesses of one scenario.
type harness struct {
	t       *testing.T
	cfg     config.Config
	cluster *kfake.Cluster
	redis   *redistest.Server
	rdb     *redis.Client
	cl      *kgo.Client
	adm     *kadm.Client
	bin     string
	env     []string // extra environment of every processor
	logDir  string

	mu      sync.Mutex
	procs   map[string]*proc
	failed  error // the first unexpected exit of a processor
	kills   int   // processes killed, by failpoint or by the test
	closing bool  // the scenario is over: nothing is restarted any more
}

type harnessOptions struct {
	tags string   // build tags of the binary
	env  []string // extra environment of every processor
	// noDeferral turns deferral off (timers.lateLookupGrace 0): every event goes out at once,
	// and one that is not out soon after the stream is committed never will be.
	noDeferral bool
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	if testing.Short() {
		t.Skip("the fault suite runs subprocesses for tens of seconds; skipped with -short")
	}
	bin := binary(t, o.tags)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	rs := redistest.Start(t)
	cfg := config.Defaults()
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cfg.Redis.URL = rs.URL()
	cfg.Redis.KeyPrefix = keyPrefix
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	env := o.env
	if o.noDeferral {
		cfg.Timers.LateLookupGrace = 0
		env = append(slices.Clone(env), "LOYALTYHOOKS_TIMERS_LATELOOKUPGRACE=0")
	}
	h := &harness{t: t, cfg: cfg, cluster: cluster, redis: rs, rdb: rs.Client(), cl: cl, adm: kadm.NewClient(cl),
		bin: bin, env: env, logDir: t.TempDir(), procs: map[string]*proc{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := topology.CreateMissing(ctx, h.adm, topology.FromConfig(cfg)); err != nil {
		t.Fatal(err)
	}
	// Registered after the broker's and Redis's cleanups, so it runs before them.
	t.Cleanup(h.cleanup)
	return h
}

// proc is one run of `loyaltyhooks process`.
type proc struct {
	id       string
	cmd      *exec.Cmd
	metrics  string        // host:port of /metrics and /readyz
	exited   chan struct{} // closed when the process has ended
	state    *os.ProcessState
	expected bool // the test ended it
}

// start runs a processor with the given instance id. failpoints is a chain of
// LOYALTYHOOKS_FAILPOINT values ("" for none): the process is armed with the first; when it
// kills itself there, it is restarted with the same instance id, armed with the next, and so on.
// Any other exit the test did not cause fails the scenario.
func (h *harness) start(id string, failpoints ...string) *proc {
	h.t.Helper()
	addr := freeAddr(h.t)
	env := make([]string, 0, len(os.Environ())+16)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOYALTYHOOKS_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"LOYALTYHOOKS_KAFKA_BROKERS="+strings.Join(h.cfg.Kafka.Brokers, ","),
		"LOYALTYHOOKS_KAFKA_SESSIONTIMEOUT="+sessionTimeout.String(),
		"LOYALTYHOOKS_KAFKA_REBALANCETIMEOUT="+rebalanceTimeout.String(),
		"LOYALTYHOOKS_KAFKA_TRANSACTIONTIMEOUT="+transactionTimeout.String(),
		"LOYALTYHOOKS_REDIS_URL="+h.redis.URL(),
		"LOYALTYHOOKS_REDIS_KEYPREFIX="+keyPrefix,
		"LOYALTYHOOKS_PROCESSOR_INSTANCEID="+id,
		"LOYALTYHOOKS_PROCESSOR_MAXPOLLRECORDS="+strconv.Itoa(maxPollRecords),
		"LOYALTYHOOKS_PROCESSOR_DEDUPTTL=1h",
		"LOYALTYHOOKS_METRICS_ADDR="+addr,
		"LOYALTYHOOKS_LOG_LEVEL=info",
		// A change waiting for a lookup row is tried every second rather than after growing
		// delays, so that it goes out soon after its row arrives and the scenarios end sooner.
		"LOYALTYHOOKS_TIMERS_LATELOOKUPDELAYS=1s",
	)
	env = append(env, h.env...)
	var armed string
	if len(failpoints) > 0 {
		armed = failpoints[0]
		if armed != "" {
			env = append(env, failpoint.Env+"="+armed)
		}
	}
	logf, err := os.OpenFile(filepath.Join(h.logDir, id+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== start %s at %s, failpoint %q\n", id, time.Now().Format(time.TimeOnly), armed)
	cmd := exec.Command(h.bin, "process")
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		h.t.Fatalf("start processor %s: %v", id, err)
	}
	p := &proc{id: id, cmd: cmd, metrics: addr, exited: make(chan struct{})}
	h.mu.Lock()
	h.procs[id] = p
	p.expected = h.closing
	h.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		logf.Close()
		h.mu.Lock()
		p.state = cmd.ProcessState
		expected := p.expected
		h.mu.Unlock()
		close(p.exited)
		if expected {
			return
		}
		if armed != "" && killed(p.state) {
			h.mu.Lock()
			h.kills++
			h.mu.Unlock()
			h.t.Logf("processor %s killed by failpoint %s; restarting it", id, armed)
			h.start(id, failpoints[1:]...)
			return
		}
		h.mu.Lock()
		if h.failed == nil {
			h.failed = fmt.Errorf("processor %s exited on its own: %v", id, p.state)
		}
		h.mu.Unlock()
	}()
	return p
}

func killed(s *os.ProcessState) bool {
	ws, ok := s.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// proc returns the current process of an instance id.
func (h *harness) proc(id string) *proc {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.procs[id]
}

// kill SIGKILLs an instance, as a crash would, and waits until it is gone.
func (h *harness) kill(id string) {
	p := h.proc(id)
	h.mu.Lock()
	p.expected = true
	h.kills++
	h.mu.Unlock()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop ends an instance with SIGTERM: it finishes its batch, commits and leaves the group.
func (h *harness) stop(id string) {
	h.t.Helper()
	p := h.proc(id)
	h.mu.Lock()
	p.expected = true
	h.mu.Unlock()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if !p.state.Success() {
			h.t.Errorf("processor %s did not stop cleanly on SIGTERM: %v", id, p.state)
		}
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		h.t.Errorf("processor %s did not stop within 30s of SIGTERM", id)
	}
}

// running lists the instance ids whose process runs now.
func (h *harness) running() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []string
	for id, p := range h.procs {
		select {
		case <-p.exited:
		default:
			ids = append(ids, id)
		}
	}
	return ids
}

// stopAll stops every running instance with SIGTERM.
func (h *harness) stopAll() {
	for _, id := range h.running() {
		h.stop(id)
	}
}

func (h *harness) cleanup() {
	h.mu.Lock()
	h.closing = true
	procs := make([]*proc, 0, len(h.procs))
	for _, p := range h.procs {
		p.expected = true
		procs = append(procs, p)
	}
	h.mu.Unlock()
	for _, p := range procs {
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	if h.t.Failed() {
		h.dumpLogs()
	}
}

// dumpLogs prints the end of every processor's log.
func (h *harness) dumpLogs() {
	entries, _ := os.ReadDir(h.logDir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(h.logDir, e.Name()))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		h.t.Logf("--- last lines of %s:\n%s", e.Name(), strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
}

// check returns the first unexpected exit of a processor, if any.
func (h *harness) check() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failed
}

// await polls cond every 50 ms until it holds; it fails the test when a processor exits on its
// own or ctx ends first.
func (h *harness) await(ctx context.Context, what string, cond func() bool) {
	h.t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if err := h.check(); err != nil {
			h.t.Fatalf("while waiting for %s: %v", what, err)
		}
		select {
		case <-ctx.Done():
			h.t.Fatalf("%s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// fresh copies records for producing: the client fills in partition, offset and timestamp.
func fresh(recs []*kgo.Record) []*kgo.Record {
	out := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		out[i] = &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers}
	}
	return out
}

// produce writes records the way Debezium does: in order, acknowledged.
func (h *harness) produce(ctx context.Context, recs []*kgo.Record) {
	h.t.Helper()
	if len(recs) == 0 {
		return
	}
	if err := h.cl.ProduceSync(ctx, fresh(recs)...).FirstErr(); err != nil {
		h.t.Fatalf("produce: %v", err)
	}
}

// feeder produces records in chunks at a steady pace in the background: continuous load.
type feeder struct {
	done chan struct{}
	mu   sync.Mutex
	sent int
	err  error
}

func (h *harness) feed(ctx context.Context, recs []*kgo.Record, chunk int, every time.Duration) *feeder {
	f := &feeder{done: make(chan struct{})}
	go func() {
		defer close(f.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for lo := 0; lo < len(recs); lo += chunk {
			hi := min(lo+chunk, len(recs))
			if err := h.cl.ProduceSync(ctx, fresh(recs[lo:hi])...).FirstErr(); err != nil {
				f.mu.Lock()
				f.err = err
				f.mu.Unlock()
				return
			}
			f.mu.Lock()
			f.sent = hi
			f.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return f
}

// progress is how many records the feeder has produced.
func (f *feeder) progress() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent
}

// wait waits until every record is produced.
func (f *feeder) wait(t *testing.T) {
	t.Helper()
	<-f.done
	if f.err != nil {
		t.Fatalf("feeding the change stream: %v", f.err)
	}
}

// sources are the change topics the processors read.
func (h *harness) sources() []string { return topology.FromConfig(h.cfg).Sources() }

// lag is how many change records the processor group has not committed past yet, over every
// partition of the change topics (a partition without a commit counts from its start, which is
// 0: nothing is deleted here); -1 while it cannot be told.
func (h *harness) lag(ctx context.Context) int64 {
	ends, err := h.adm.ListEndOffsets(ctx, h.sources()...)
	if err != nil || ends.Error() != nil {
		return -1
	}
	offs, err := h.adm.FetchOffsets(ctx, h.cfg.Processor.Group)
	if err != nil {
		return -1
	}
	var total int64
	ends.Each(func(e kadm.ListedOffset) {
		at := int64(0)
		if o, ok := offs.Lookup(e.Topic, e.Partition); ok && o.Err == nil && o.At > 0 {
			at = o.At
		}
		total += e.Offset - at
	})
	return total
}

// committedCount is how many change records the group has committed past, over all partitions.
func (h *harness) committedCount(ctx context.Context) int64 {
	offs, err := h.adm.FetchOffsets(ctx, h.cfg.Processor.Group)
	if err != nil {
		return -1
	}
	var n int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil {
			n += o.At
		}
	})
	return n
}

// stable reports whether the group is Stable with the given number of members.
func (h *harness) stable(ctx context.Context, members int) bool {
	gs, err := h.adm.DescribeGroups(ctx, h.cfg.Processor.Group)
	if err != nil {
		return false
	}
	g, ok := gs[h.cfg.Processor.Group]
	return ok && g.Err == nil && g.State == "Stable" && len(g.Members) == members
}

// ready asks an instance's /readyz.
func (p *proc) ready() bool {
	resp, err := http.Get("http://" + p.metrics + "/readyz")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// metric reads one unlabelled sample from an instance's /metrics; false when absent.
func (p *proc) metric(name string) (float64, bool) {
	resp, err := http.Get("http://" + p.metrics + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
