package faultsuite

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestSoak is the long run, off unless LOYALTYHOOKS_SOAK is set (to 1, or to a number of
// business actions, default 20000): three instances under continuous load, a random one
// SIGKILLed and restarted every few seconds, Redis killed and restarted twice, and Debezium
// redelivering a stretch of changes every so often. Every event exactly once at the end.
func TestSoak(t *testing.T) {
	spec := os.Getenv("LOYALTYHOOKS_SOAK")
	if spec == "" {
		t.Skip("set LOYALTYHOOKS_SOAK=1 (or a number of business actions) for the long run")
	}
	steps := 20000
	if n, err := strconv.Atoi(spec); err == nil && n > 1 {
		steps = n
	}
	h := newHarness(t, harnessOptions{})
	ctx := scenarioContext(t, 24*time.Hour)
	s := newStream(t, h.cfg, 99, steps, 200)
	t.Log(s)
	rng := rand.New(rand.NewPCG(99, 1))
	ids := []string{"p1", "p2", "p3"}
	h.produce(ctx, s.snapshot)
	for _, id := range ids {
		h.start(id)
	}
	f := h.feed(ctx, s.live, 30, 100*time.Millisecond)
	for round := 0; f.progress() < len(s.live); round++ {
		before := h.committedCount(ctx)
		h.await(ctx, "progress", func() bool {
			return h.committedCount(ctx) > before+300 || f.progress() == len(s.live)
		})
		switch {
		case round%7 == 3:
			h.redis.Stop()
			time.Sleep(time.Duration(2+rng.IntN(4)) * time.Second) // the outage's length
			h.redis.Restart()
		case round%5 == 2:
			sent := f.progress()
			lo := max(0, sent-rng.IntN(600))
			h.produce(ctx, good(s.live[lo:sent]))
		default:
			time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond) // where the victim dies
			victim := ids[rng.IntN(len(ids))]
			h.kill(victim)
			h.start(victim)
		}
	}
	f.wait(t)
	mustBeExact(t, h.finish(ctx, s, h.settle()))
}
