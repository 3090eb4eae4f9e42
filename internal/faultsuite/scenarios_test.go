package faultsuite

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/internal/failpoint"
	"github.com/loyaltyhooks/loyaltyhooks/processor/timer"
)

// settle is how long the suite waits, once the whole stream is committed, for expected events
// that are not out yet before it calls them missing: a few seconds, plus, with deferral on, the
// grace of a change waiting for a lookup row (its events are out by then at the latest, nulls in
// the row's place) and a timer tick and a fetch to bring it back. Passing runs do not wait it
// out.
func (h *harness) settle() time.Duration {
	d := 5 * time.Second
	if grace := h.cfg.Timers.LateLookupGrace; grace > 0 {
		d += grace + h.cfg.Timers.Tick + 5*time.Second
	}
	return d
}

// scenarioContext bounds a scenario: limit, or less when the test binary's deadline is nearer.
func scenarioContext(t *testing.T, limit time.Duration) context.Context {
	if d, ok := t.Deadline(); ok {
		limit = min(limit, time.Until(d)-30*time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	return ctx
}

// TestRedelivery: Debezium resends changes at later offsets three times — right behind the
// originals, long after them, and after the change topics grew partitions so that the copies
// land on other partitions (and other instances) than the originals.
func TestRedelivery(t *testing.T) {
	t.Parallel()
	mustBeExact(t, runRedelivery(t, harnessOptions{}))
}

func runRedelivery(t *testing.T, o harnessOptions) verdict {
	h := newHarness(t, o)
	ctx := scenarioContext(t, 4*time.Minute)
	s := newStream(t, h.cfg, 11, 900, 60)
	t.Log(s)
	h.produce(ctx, s.snapshot)
	h.start("p1")
	h.start("p2")
	live := s.live
	third := len(live) / 3

	h.produce(ctx, live[:third])
	h.produce(ctx, good(live[third/2:third])) // a connector restart: resent since its last flush
	h.produce(ctx, live[third:2*third])
	h.await(ctx, "the first two thirds committed", func() bool { return h.lag(ctx) == 0 })

	grown, err := h.adm.CreatePartitions(ctx, 3, h.sources()...)
	if err == nil {
		err = grown.Error()
	}
	if err != nil {
		t.Fatalf("grow the change topics: %v", err)
	}
	// A running client sees new partitions only at its next metadata refresh (five minutes by
	// default); a rolling restart — one crash, one clean stop — brings them in now.
	h.kill("p1")
	h.start("p1")
	h.stop("p2")
	h.start("p2")

	h.produce(ctx, good(live[third:2*third])) // resent long after, now on other partitions
	h.produce(ctx, live[2*third:])
	h.produce(ctx, good(live[2*third+third/2:]))
	return h.finish(ctx, s, h.settle())
}

// TestCrashMidTransaction: instances SIGKILL themselves at every failpoint of a batch — after
// the lookups are written, after the claims, after the records are in the open transaction —
// several times in one run, each restarted with its instance id so that its transactional.id
// fences the dead one's open transaction. Changes are resent on the way.
func TestCrashMidTransaction(t *testing.T) {
	t.Parallel()
	v, kills := runCrashes(t, harnessOptions{})
	mustBeExact(t, v)
	if kills < 5 {
		t.Fatalf("only %d failpoints fired; the scenario must crash the processors at least 5 times", kills)
	}
}

// crashSchedule arms each instance with a chain of failpoints: the n-th pass of the first kills
// it, the restart is armed with the next, and so on; "" runs unarmed.
var crashSchedule = map[string][]string{
	"p1": {failpoint.AfterClaims + ":2", failpoint.AfterProduce + ":2", failpoint.AfterLookupsFlush + ":3",
		failpoint.AfterClaims + ":1", ""},
	"p2": {failpoint.AfterProduce + ":3", failpoint.AfterClaims + ":2", ""},
}

func runCrashes(t *testing.T, o harnessOptions) (verdict, int) {
	h := newHarness(t, o)
	ctx := scenarioContext(t, 4*time.Minute)
	s := newStream(t, h.cfg, 12, 1200, 80)
	t.Log(s)
	scheduled := 0
	for _, chain := range crashSchedule {
		scheduled += len(chain) - 1
	}
	h.produce(ctx, s.snapshot)
	for _, id := range []string{"p1", "p2"} {
		h.start(id, crashSchedule[id]...)
	}
	// Chunk by chunk, each until the processors have committed it or one of them crashed, so
	// that the crashes happen while there is work and the whole schedule fires.
	const chunk = 150
	for lo := 0; lo < len(s.live); lo += chunk {
		kills := h.killCount()
		h.produce(ctx, s.live[lo:min(lo+chunk, len(s.live))])
		h.await(ctx, "a chunk committed or a crash", func() bool { return h.killCount() > kills || h.lag(ctx) == 0 })
	}
	h.produce(ctx, good(s.live[len(s.live)/2:len(s.live)/2+400]))
	v := h.finish(ctx, s, h.settle())
	if kills := h.killCount(); kills < scheduled {
		t.Logf("%d of %d scheduled failpoints fired before the stream ran out", kills, scheduled)
	}
	return v, h.killCount()
}

// TestCrashWhileDeferred: the member and unit_transfer topics fall behind the others, so that
// member codes, wallets, transactions, rewards and campaign effects of new members are read
// before the rows they need and wait as deferred changes. Meanwhile one instance dies at
// failpoints (in batches that stored deferred changes and claimed the events of others, and in
// batches of changes come back from waiting) and the other is SIGKILLed with changes waiting;
// then the late rows arrive, and a stretch of changes is redelivered. Every event exactly once.
func TestCrashWhileDeferred(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	ctx := scenarioContext(t, 4*time.Minute)
	s := newStream(t, h.cfg, 18, 500, 0)
	t.Log(s)
	late := map[string]bool{h.cfg.Source.Topic("member"): true, h.cfg.Source.Topic("unit_transfer"): true}
	var early, behind []*kgo.Record
	for _, r := range s.live {
		if late[r.Topic] {
			behind = append(behind, r)
		} else {
			early = append(early, r)
		}
	}
	h.produce(ctx, s.snapshot)
	h.start("p1", failpoint.AfterClaims+":2", failpoint.AfterProduce+":2", failpoint.AfterLookupsFlush+":2",
		failpoint.AfterProduce+":1", "")
	h.start("p2")
	const chunk = 100
	for lo := 0; lo < len(early); lo += chunk {
		kills := h.killCount()
		h.produce(ctx, early[lo:min(lo+chunk, len(early))])
		h.await(ctx, "a chunk committed or a crash", func() bool { return h.killCount() > kills || h.lag(ctx) == 0 })
	}
	h.await(ctx, "the early changes committed", func() bool { return h.lag(ctx) == 0 })
	waiting := h.waitingDeferred(ctx)
	if waiting == 0 {
		t.Fatal("no change waits for a late row: the scenario would test nothing")
	}
	h.kill("p2") // with changes waiting
	h.start("p2")
	h.produce(ctx, behind)
	h.produce(ctx, good(early[len(early)/2:len(early)/2+150]))
	mustBeExact(t, h.finish(ctx, s, h.settle()))
	t.Logf("%d changes waited for late rows when p2 was killed; %d processes killed in all", waiting, h.killCount())
}

// waitingDeferred counts the deferred changes waiting in Redis: the members of the sorted set
// of each shard, <prefix>deferred:{deferred/<shard>} (processor/timer/deferred.go).
func (h *harness) waitingDeferred(ctx context.Context) int64 {
	h.t.Helper()
	pipe := h.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, timer.Shards)
	for s := range timer.Shards {
		cmds[s] = pipe.ZCard(ctx, keyPrefix+"deferred:{deferred/"+strconv.Itoa(s)+"}")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		h.t.Fatalf("count deferred changes: %v", err)
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n
}

// TestRandomKills: two instances under continuous load, one of them SIGKILLed at a random
// moment several times and restarted with its instance id.
func TestRandomKills(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	ctx := scenarioContext(t, 4*time.Minute)
	s := newStream(t, h.cfg, 13, 1200, 100)
	t.Log(s)
	rng := rand.New(rand.NewPCG(13, 13))
	h.produce(ctx, s.snapshot)
	h.start("p1")
	h.start("p2")
	f := h.feed(ctx, s.live, 40, 100*time.Millisecond)
	for range 4 {
		before := h.committedCount(ctx)
		h.await(ctx, "progress since the last kill", func() bool {
			return h.committedCount(ctx) > before+100 || f.progress() == len(s.live)
		})
		// Randomness, not synchronization: where in its batch the victim dies.
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		victim := []string{"p1", "p2"}[rng.IntN(2)]
		h.kill(victim)
		h.start(victim)
	}
	f.wait(t)
	h.produce(ctx, good(s.live[len(s.live)-500:]))
	mustBeExact(t, h.finish(ctx, s, h.settle()))
}

// TestScaleTwoOneThree: under continuous load, two instances become one (SIGKILL of the other,
// not restarted: its partitions wait for the session and its transaction to time out), then
// three. It logs how long the lost instance's partitions took to move again.
func TestScaleTwoOneThree(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	ctx := scenarioContext(t, 4*time.Minute)
	s := newStream(t, h.cfg, 14, 1800, 100)
	t.Log(s)
	h.produce(ctx, s.snapshot)
	h.start("p1")
	h.start("p2")
	f := h.feed(ctx, s.live, 25, 100*time.Millisecond)

	h.await(ctx, "two instances in a stable group, working", func() bool {
		return h.stable(ctx, 2) && h.committedCount(ctx) > int64(len(s.snapshot)+200)
	})
	// kfake may keep a member that dies inside a join forever (PITFALLS.md): kill only while
	// the group is stable.
	h.kill("p2")
	killed := time.Now()
	h.await(ctx, "one instance owning everything", func() bool { return h.stable(ctx, 1) })
	alone := h.committedCount(ctx)
	h.await(ctx, "the survivor committing", func() bool { return h.committedCount(ctx) > alone+100 })
	t.Logf("recovery after losing an instance: stable group of one after the session timeout, "+
		"committing again %s after the kill (session %s, transaction timeout %s)",
		time.Since(killed).Round(100*time.Millisecond), sessionTimeout, transactionTimeout)

	h.start("p3")
	h.start("p4")
	h.await(ctx, "three instances in a stable group", func() bool { return h.stable(ctx, 3) })
	if f.progress() == len(s.live) {
		t.Log("the stream was fully fed before the group reached three instances")
	}
	f.wait(t)
	mustBeExact(t, h.finish(ctx, s, h.settle()))
}

// TestRedisOutage: Redis is killed for several seconds under load and restarted with its data.
// The processors must report not ready, commit nothing meanwhile, and carry on by themselves:
// nothing lost, nothing produced without a claim.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	ctx := scenarioContext(t, 4*time.Minute)
	s := newStream(t, h.cfg, 15, 1200, 100)
	t.Log(s)
	h.produce(ctx, s.snapshot)
	p1, p2 := h.start("p1"), h.start("p2")
	f := h.feed(ctx, s.live, 25, 100*time.Millisecond)
	h.await(ctx, "both instances ready and working", func() bool {
		return p1.ready() && p2.ready() && h.committedCount(ctx) > int64(len(s.snapshot)+300)
	})

	h.redis.Stop()
	h.await(ctx, "both instances not ready", func() bool {
		down := func(p *proc) bool { v, ok := p.metric("loyaltyhooks_processor_redis_unavailable"); return ok && v == 1 }
		return !p1.ready() && !p2.ready() && down(p1) && down(p2)
	})
	before := h.stableOffsets(ctx)
	// The outage lasts a few seconds; this is its length, not a wait for anything.
	time.Sleep(3 * time.Second)
	if after := h.stableOffsets(ctx); after != before {
		t.Errorf("the webhook topic grew from %d to %d committed offsets while Redis was down", before, after)
	}
	h.redis.Restart()
	h.await(ctx, "both instances ready again", func() bool { return p1.ready() && p2.ready() })
	for _, p := range []*proc{p1, p2} {
		if secs, ok := p.metric("loyaltyhooks_processor_redis_unavailable_seconds_total"); !ok || secs < 2 {
			t.Errorf("%s reports %.1fs of Redis unavailability (found: %v), want the outage's seconds", p.id, secs, ok)
		}
	}
	f.wait(t)
	h.produce(ctx, good(s.live[len(s.live)/3:len(s.live)/2]))
	mustBeExact(t, h.finish(ctx, s, h.settle()))
}

// stableOffsets sums the webhook topic's last stable offsets.
func (h *harness) stableOffsets(ctx context.Context) int64 {
	h.t.Helper()
	offs, err := h.adm.ListCommittedOffsets(ctx, h.cfg.Topics.Webhooks)
	if err != nil {
		h.t.Fatal(err)
	}
	var n int64
	offs.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// TestPoisonInterleaved: one poison record in about ten, of four kinds, across every change
// topic, with a crash and a redelivery on the way: every poison record in the dead-letter topic
// once with its reason, every good change's events exactly once.
func TestPoisonInterleaved(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	ctx := scenarioContext(t, 4*time.Minute)
	s := newStream(t, h.cfg, 16, 600, 10)
	t.Log(s)
	h.produce(ctx, s.snapshot)
	h.start("p1", failpoint.AfterProduce+":3", "")
	h.start("p2")
	h.produce(ctx, s.live)
	h.produce(ctx, good(s.live[len(s.live)/2:]))
	v := h.finish(ctx, s, h.settle())
	mustBeExact(t, v)
	if len(s.poison) < 100 {
		t.Fatalf("only %d poison records in the stream", len(s.poison))
	}
}

// The suite must tell a broken claim from a good one. These run it against the two classic
// mistakes, built into a test-only binary (cmd/loyaltyhooks/faultsuite.go), and expect it to fail.

// TestSuiteCatchesMissingClaim: without claims, redelivered changes are emitted twice.
func TestSuiteCatchesMissingClaim(t *testing.T) {
	t.Parallel()
	v := runRedelivery(t, harnessOptions{tags: "faultsuite", env: []string{"LOYALTYHOOKS_FAULTSUITE_CLAIMER=none"}})
	if len(v.duplicated) == 0 {
		t.Fatalf("the redelivery scenario passed without claims: %s", v)
	}
	t.Logf("as it must, the suite caught the missing claim: %d duplicated events", len(v.duplicated))
}

// TestSuiteCatchesPlainSetNX: with SET NX and no owner, a batch that claimed and then crashed
// before its commit finds its own claims when replayed and drops the events: they are lost.
// Deferral is off, so that an event lost is not told from one still waiting for a lookup row.
func TestSuiteCatchesPlainSetNX(t *testing.T) {
	t.Parallel()
	v, _ := runCrashes(t, harnessOptions{tags: "faultsuite", env: []string{"LOYALTYHOOKS_FAULTSUITE_CLAIMER=setnx"}, noDeferral: true})
	if len(v.missing) == 0 {
		t.Fatalf("the crash scenario passed with a plain SET NX claim: %s", v)
	}
	t.Logf("as it must, the suite caught the plain SET NX: %d lost events", len(v.missing))
}
