package faultsuite

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/processor"
	"github.com/loyaltyhooks/loyaltyhooks/processor/claim"
)

// observed is what the output topics hold, read_committed, as a data team's consumer sees it.
type observed struct {
	events map[string]int    // messageId → records
	names  map[string]string // messageId → trigger
	dead   map[string]int    // poison number → dead-lettered records
	// deadWithoutReason counts dead letters that lack their reason header.
	deadWithoutReason int
}

// read reads every committed record of the webhook and dead-letter topics.
func (h *harness) read(ctx context.Context) observed {
	h.t.Helper()
	o := observed{events: map[string]int{}, names: map[string]string{}, dead: map[string]int{}}
	for _, r := range h.readTopic(ctx, h.cfg.Topics.Webhooks) {
		id := processor.Header(r, processor.HeaderMessageID)
		o.events[id]++
		o.names[id] = processor.Header(r, processor.HeaderEventName)
	}
	for _, r := range h.readTopic(ctx, h.cfg.Topics.CDCDeadLetter) {
		o.dead[processor.Header(r, poisonHeader)]++
		if processor.Header(r, processor.HeaderDeadReason) == "" {
			o.deadWithoutReason++
		}
	}
	return o
}

// readTopic reads a topic read_committed up to its last stable offsets.
func (h *harness) readTopic(ctx context.Context, topic string) []*kgo.Record {
	h.t.Helper()
	stable, err := h.adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		h.t.Fatalf("last stable offsets of %s: %v", topic, err)
	}
	remaining := map[int32]int64{}
	stable.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	if len(remaining) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.cfg.Kafka.Brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		h.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			h.t.Fatalf("read %s: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := remaining[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}

// verdict compares what the topics hold with what the stream must yield.
type verdict struct {
	expected, distinct int
	missing            []string // expected messageIds never produced
	duplicated         []string // messageIds produced more than once
	unexpected         []string // row-trigger messageIds the stream does not yield
	unclaimed          []string // produced messageIds without a claim in Redis
	deadMissing        []string // poison records not dead-lettered
	deadDuplicated     []string // poison records dead-lettered more than once
	deadUnexpected     int      // dead letters that are not the suite's poison
	deadWithoutReason  int
}

func (v verdict) ok() bool {
	return len(v.missing)+len(v.duplicated)+len(v.unexpected)+len(v.unclaimed)+
		len(v.deadMissing)+len(v.deadDuplicated)+v.deadUnexpected+v.deadWithoutReason == 0
}

func (v verdict) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d expected events, %d distinct produced", v.expected, v.distinct)
	list := func(what string, ids []string) {
		if len(ids) > 0 {
			fmt.Fprintf(&b, "; %d %s (e.g. %s)", len(ids), what, strings.Join(ids[:min(3, len(ids))], ", "))
		}
	}
	list("missing", v.missing)
	list("duplicated", v.duplicated)
	list("unexpected", v.unexpected)
	list("produced without a claim", v.unclaimed)
	list("poison records not dead-lettered", v.deadMissing)
	list("poison records dead-lettered twice", v.deadDuplicated)
	if v.deadUnexpected > 0 {
		fmt.Fprintf(&b, "; %d good records dead-lettered", v.deadUnexpected)
	}
	if v.deadWithoutReason > 0 {
		fmt.Fprintf(&b, "; %d dead letters without a reason", v.deadWithoutReason)
	}
	return b.String()
}

// timerTrigger tells the expiry-timer triggers, whose events depend on the wall clock and not
// only on the change stream: they are checked for duplicates, not against the expected set.
func timerTrigger(name string) bool { return strings.HasSuffix(name, "WillExpire") }

func (h *harness) verdict(ctx context.Context, s *stream, o observed) verdict {
	h.t.Helper()
	v := verdict{expected: len(s.events), distinct: len(o.events), deadWithoutReason: o.deadWithoutReason}
	for id := range s.events {
		if o.events[id] == 0 {
			v.missing = append(v.missing, id)
		}
	}
	for id, n := range o.events {
		if n > 1 {
			v.duplicated = append(v.duplicated, id)
		}
		if _, ok := s.events[id]; !ok && !timerTrigger(o.names[id]) {
			v.unexpected = append(v.unexpected, id)
		}
	}
	for n := range s.poison {
		if o.dead[n] == 0 {
			v.deadMissing = append(v.deadMissing, n)
		}
	}
	for n, c := range o.dead {
		switch {
		case !s.poison[n]:
			v.deadUnexpected += c
		case c > 1:
			v.deadDuplicated = append(v.deadDuplicated, n)
		}
	}
	v.unclaimed = h.unclaimed(ctx, o)
	for _, ids := range [][]string{v.missing, v.duplicated, v.unexpected, v.unclaimed, v.deadMissing, v.deadDuplicated} {
		slices.Sort(ids)
	}
	return v
}

// unclaimed lists the produced messageIds that hold no claim in Redis: events that went out
// unchecked.
func (h *harness) unclaimed(ctx context.Context, o observed) []string {
	h.t.Helper()
	keys := claim.NewRedis(h.rdb, keyPrefix, time.Hour)
	pipe := h.rdb.Pipeline()
	ids := make([]string, 0, len(o.events))
	var cmds []interface{ Val() int64 }
	for id := range o.events {
		key, err := keys.Key(id)
		if err != nil {
			h.t.Fatalf("produced messageId %q: %v", id, err)
		}
		ids = append(ids, id)
		cmds = append(cmds, pipe.Exists(ctx, key))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		h.t.Fatalf("read claims: %v", err)
	}
	var out []string
	for i, c := range cmds {
		if c.Val() == 0 {
			out = append(out, ids[i])
		}
	}
	return out
}

// finish waits until the processors have committed the whole stream and every expected event
// is out (or, when some never come, settle has passed since the stream was committed), stops
// them, and judges the topics.
func (h *harness) finish(ctx context.Context, s *stream, settle time.Duration) verdict {
	h.t.Helper()
	h.await(ctx, "the processors to commit the whole change stream", func() bool { return h.lag(ctx) == 0 })
	deadline := time.Now().Add(settle)
	h.await(ctx, "every expected event", func() bool {
		o := h.read(ctx)
		for id := range s.events {
			if o.events[id] == 0 {
				return time.Now().After(deadline)
			}
		}
		return true
	})
	h.stopAll()
	if err := h.check(); err != nil {
		h.t.Fatal(err)
	}
	v := h.verdict(ctx, s, h.read(ctx))
	h.t.Logf("verdict: %s; %d processes killed", v, h.killCount())
	return v
}

func (h *harness) killCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.kills
}

// mustBeExact fails the test unless every expected event is there exactly once.
func mustBeExact(t *testing.T, v verdict) {
	t.Helper()
	if !v.ok() {
		t.Fatalf("not exactly once: %s", v)
	}
}
