package processor

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/processor/rules"
	"github.com/loyaltyhooks/loyaltyhooks/topology"
)

// referencesFirst reads a backlog lookups first. Debezium's topics are read independently, so
// after a fresh deployment (the snapshot), a scale-out or an outage, the changes of a table such
// as wallet may be read long before the member and unit_transfer rows their events need; each
// such change is then deferred (see deferral.go), stored in Redis and read back later, which is
// most of a backlog's cost, and past the grace it goes out with nulls. So while the topic of a
// lookup table lags more than processor.referenceLag records (summed over its partitions, the
// whole group's lag), the topics whose triggers need that table are not fetched. The tables'
// needs form a hierarchy (rules.Needs; a test keeps it free of cycles), so the topics that need
// nothing are never held back and a backlog drains level by level.
//
// When partitions are assigned, a lookup topic that lags, but no more than the limit, is read up
// to where it ended then before the topics that need it: a small lookup topic (tier, tenant)
// never lags more than the limit, yet its rows come in a later poll than the changes that need
// them. (A topic over the limit is let go at the limit as ever, so that its last records are
// read while its dependents start.)
//
// Holding a topic back is pausing its fetches: kgo drops what it buffered of it and fetches it
// again from the same offset when it resumes, so nothing is skipped. Within a partition the
// order is kept as ever; a change merely sees its lookup rows as they are later, which it may
// anyway (the store holds each row's latest state).
type referencesFirst struct {
	lag      int64
	group    string
	waitsFor map[string][]string // a source topic → the topics of the lookup tables it needs
	log      *slog.Logger
	gauge    prometheus.Gauge

	mu      sync.Mutex
	held    []string // the topics held back now, sorted
	checked time.Time
	// targets are, per lookup topic that lagged no more than the limit when partitions were last
	// assigned, the end offsets it had then: until the group has read up to them, its
	// dependents wait.
	targets map[string]map[int32]int64
}

const (
	// referencesHeldPoll bounds a poll while topics are held back; the lags are read again
	// before each poll then, so a held topic resumes soon after what it waits for catches up.
	referencesHeldPoll = 25 * time.Millisecond
	// referencesCheck is how often the lags are read while nothing is held back, so that a
	// backlog building up later (after an outage) is read lookups first too.
	referencesCheck = 10 * time.Second
)

// newReferencesFirst returns nil when processor.referenceLag is 0.
func newReferencesFirst(cfg config.Config, log *slog.Logger, gauge prometheus.Gauge) *referencesFirst {
	if cfg.Processor.ReferenceLag <= 0 {
		return nil
	}
	sources := topology.FromConfig(cfg).Sources()
	waits := map[string][]string{}
	for _, table := range config.LogicalTables {
		topic := cfg.Source.Topic(table)
		if !slices.Contains(sources, topic) {
			continue
		}
		for _, need := range rules.Needs(table) {
			if t := cfg.Source.Topic(need); slices.Contains(sources, t) {
				waits[topic] = append(waits[topic], t)
			}
		}
	}
	return &referencesFirst{lag: cfg.Processor.ReferenceLag, group: cfg.Processor.Group, waitsFor: waits,
		log: log, gauge: gauge}
}

// pollTimeout is how long the next poll may wait for records: bounded while topics are held
// back, so that they are let go in time; 0 for no bound.
func (r *referencesFirst) pollTimeout() time.Duration {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.held) > 0 {
		return referencesHeldPoll
	}
	return 0
}

// update reads the group's lag, when due or when force is set, and holds back or lets go the
// topics accordingly. A failed read changes nothing; the next one is tried at the next poll.
func (r *referencesFirst) update(ctx context.Context, cl *kgo.Client, force bool) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !force && len(r.held) == 0 && time.Since(r.checked) < referencesCheck {
		return
	}
	r.checked = time.Now()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	lags, err := kadm.NewClient(cl).Lag(ctx, r.group)
	lag := lags[r.group]
	if err == nil {
		err = lag.Error()
	}
	if err != nil {
		r.log.Debug("reading the group's lag to read lookups first", "err", err)
		return
	}
	if force {
		r.targets = map[string]map[int32]int64{}
		for _, needs := range r.waitsFor {
			for _, topic := range needs {
				if n := topicLag(lag.Lag[topic]); n == 0 || n > r.lag {
					continue // nothing to read, or held by the limit (it lets the last of it overlap)
				}
				r.targets[topic] = map[int32]int64{}
				for partition, p := range lag.Lag[topic] {
					r.targets[topic][partition] = p.End.Offset
				}
			}
		}
	}
	behind := map[string]int64{} // topic → its lag, for the topics over the limit or short of their target
	for topic, ps := range lag.Lag {
		n, short := topicLag(ps), int64(0)
		for partition, p := range ps {
			if end, ok := r.targets[topic][partition]; ok {
				short += max(p.Lag-(p.End.Offset-end), 0) // what is left to read of the records there then
			}
		}
		if short == 0 {
			delete(r.targets, topic)
		}
		if n > r.lag || short > 0 {
			behind[topic] = n
		}
	}
	var held []string
	for topic, needs := range r.waitsFor {
		for _, need := range needs {
			if _, ok := behind[need]; ok {
				held = append(held, topic)
				break
			}
		}
	}
	slices.Sort(held)
	r.apply(cl, held, behind)
}

// topicLag is a topic's lag summed over its partitions.
func topicLag(ps map[int32]kadm.GroupMemberLag) int64 {
	var n int64
	for _, p := range ps {
		n += max(p.Lag, 0)
	}
	return n
}

// apply pauses the topics of held and resumes those no longer in it.
func (r *referencesFirst) apply(cl *kgo.Client, held []string, behind map[string]int64) {
	var resumed []string
	for _, t := range r.held {
		if !slices.Contains(held, t) {
			resumed = append(resumed, t)
		}
	}
	if len(resumed) > 0 {
		cl.ResumeFetchTopics(resumed...)
		r.log.Info("lookup topics caught up: fetching again", "topics", resumed)
	}
	if len(held) > 0 {
		cl.PauseFetchTopics(held...)
		if !slices.Equal(held, r.held) {
			r.log.Info("reading lookups first: topics held back until the lookup topics they need catch up",
				"held", held, "lagging", behind, "limit", r.lag, "reading_to_assigned_end", slices.Sorted(maps.Keys(r.targets)))
		}
	}
	r.held = held
	r.gauge.Set(float64(len(held)))
}

// release lets go every held topic: the session is over.
func (r *referencesFirst) release(cl *kgo.Client) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.apply(cl, nil, nil)
	r.checked = time.Time{}
}
