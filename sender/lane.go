package sender

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
)

// A lane consumes one topic in one consumer group: the webhook topic (first attempts, lane
// "main") or one retry tier (lane "5m"), whose records each wait until they are due.
type lane struct {
	s     *Sender
	name  string
	topic string
	group string
	delay time.Duration // 0 for the webhook topic
	extra []kgo.Opt     // options of this lane's client only

	cl       *kgo.Client
	work     context.Context // deliveries run in it; it outlives the poll loop
	assigned atomic.Int64

	mu    sync.Mutex
	parts map[int32]*partition
}

// pollRecords bounds one poll; each partition then takes what its budget allows.
const pollRecords = 2000

// backlogEvery is how often a tier lane measures the records waiting in its partitions.
const backlogEvery = 15 * time.Second

func (l *lane) options() []kgo.Opt {
	c := l.s.cfg
	opts := append(l.s.kafkaOptions(),
		kgo.ConsumerGroup(l.group),
		kgo.ConsumeTopics(l.topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.SessionTimeout(c.Kafka.SessionTimeout),
		kgo.RebalanceTimeout(c.Kafka.RebalanceTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(c.Sender.CommitInterval),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(l.onAssigned),
		kgo.OnPartitionsRevoked(l.onRevoked),
		kgo.OnPartitionsLost(l.onLost),
		// Partitions pause and resume: a full budget, a tier's head not due.
		kgo.FetchMaxWait(connect.ResumableFetchWait),
	)
	return append(opts, l.extra...)
}

// run polls until ctx ends, then lets the deliveries in flight finish within
// sender.shutdownTimeout, commits, and leaves the group.
func (l *lane) run(ctx, work context.Context) error {
	l.work = work
	cl, err := kgo.NewClient(l.options()...)
	if err != nil {
		return err
	}
	l.cl = cl
	defer cl.Close()
	if l.delay > 0 {
		go l.measureBacklog(ctx)
	}
	for {
		fetches := cl.PollRecords(ctx, pollRecords)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			break
		}
		fetches.EachError(func(topic string, p int32, err error) {
			l.s.log.Warn("fetch error", "lane", l.name, "topic", topic, "partition", p, "err", err)
		})
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) > 0 {
				l.partition(fp.Partition).push(fp.Records)
			}
		})
		cl.AllowRebalance()
	}
	cl.AllowRebalance()
	// Three quarters of the budget for the deliveries, the rest for the commit and the leave.
	l.stop(l.take(nil), time.Now().Add(l.s.cfg.Sender.ShutdownTimeout*3/4))
	commit, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := cl.CommitMarkedOffsets(commit); err != nil {
		l.s.log.Warn("final commit failed; finished records may be read again", "lane", l.name, "err", err)
	}
	return nil
}

// partition returns the worker of an assigned partition, starting one for a partition whose
// assignment has not been seen (records are never dropped for want of a worker).
func (l *lane) partition(id int32) *partition {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.parts[id]
	if p == nil {
		p = newPartition(l, l.cl, id)
		l.parts[id] = p
	}
	return p
}

func (l *lane) onAssigned(_ context.Context, cl *kgo.Client, m map[string][]int32) {
	ids := m[l.topic]
	l.mu.Lock()
	for _, id := range ids {
		if l.parts[id] == nil {
			l.parts[id] = newPartition(l, cl, id)
		}
	}
	l.mu.Unlock()
	// A partition paused before it was revoked stays paused in the client; it starts afresh.
	cl.ResumeFetchPartitions(map[string][]int32{l.topic: ids})
	l.assigned.Add(int64(len(ids)))
}

// onRevoked gives the deliveries in flight of the revoked partitions half the rebalance timeout
// to finish, then commits what is finished. What did not finish is read again by the next
// owner, and what was delivered is remembered in Redis, so it is not sent twice.
func (l *lane) onRevoked(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	ps := l.take(m[l.topic])
	l.stop(ps, time.Now().Add(l.s.cfg.Kafka.RebalanceTimeout/2))
	if err := cl.CommitMarkedOffsets(ctx); err != nil {
		l.s.log.Warn("commit on revoke failed; finished records may be read again", "lane", l.name, "err", err)
	}
}

// onLost abandons the partitions at once: another member may own them already, and a commit
// would fail.
func (l *lane) onLost(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	l.stop(l.take(m[l.topic]), time.Now())
}

// take removes the workers of ids (all of them when ids is nil) from the lane.
func (l *lane) take(ids []int32) []*partition {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*partition
	for id, p := range l.parts {
		if ids == nil || containsID(ids, id) {
			out = append(out, p)
			delete(l.parts, id)
		}
	}
	l.assigned.Add(-int64(len(out)))
	return out
}

func containsID(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// stop stops the workers together, each finishing its deliveries until deadline.
func (l *lane) stop(ps []*partition, deadline time.Time) {
	for _, p := range ps {
		p.stopAt <- deadline
	}
	for _, p := range ps {
		<-p.exited
	}
}

// measureBacklog sets the retry backlog gauge of this tier from the group's lag on the
// partitions this instance owns, until ctx ends.
func (l *lane) measureBacklog(ctx context.Context) {
	t := time.NewTicker(backlogEvery)
	defer t.Stop()
	adm := kadm.NewClient(l.cl)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lags, err := adm.Lag(ctx, l.group)
		if err != nil {
			continue
		}
		var total int64
		l.mu.Lock()
		for id := range l.parts {
			if lag, ok := lags[l.group].Lag.Lookup(l.topic, id); ok && lag.Lag > 0 {
				total += lag.Lag
			}
		}
		l.mu.Unlock()
		l.s.metrics.RetryBacklog.WithLabelValues(l.name).Set(float64(total))
	}
}
