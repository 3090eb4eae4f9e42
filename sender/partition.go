package sender

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A partition is the worker of one assigned partition of a lane. It alone decides which of the
// partition's records start, keeps them in offset order until each is finished, marks the
// offset after the finished prefix for commit, and pauses fetching while it holds records it
// cannot start yet (over sender.maxInFlight, or a tier record not yet due).
type partition struct {
	l  *lane
	cl *kgo.Client
	id int32

	mu    sync.Mutex
	queue []*kgo.Record // polled, not yet taken by the worker
	wake  chan struct{}

	done   chan *delivery // deliveries that finished
	tick   chan struct{}  // the head of waiting is due
	stopAt chan time.Time // stop, finishing deliveries until the deadline given
	exited chan struct{}  // closed when the worker has returned
	gone   chan struct{}  // closed when the worker has returned: deliveries still running hand nothing on

	// The worker goroutine's own.
	waiting   []*kgo.Record // records not started yet, in offset order
	started   []*item       // records started and not yet committable, in offset order
	pending   int           // started records not finished
	chains    map[chainKey]*delivery
	paused    bool
	fresh     int64  // records from this offset on were never started: no delivered check
	reserved  int64  // the started watermark reserved so far
	mark      string // the watermark's key; "" on a retry tier, which has none
	timerAt   time.Time
	stopTimer func() bool
}

// item is one started record and how many of its deliveries are still running.
type item struct {
	rec  *kgo.Record
	left int
	done bool
}

func newPartition(l *lane, cl *kgo.Client, id int32) *partition {
	p := &partition{
		l: l, cl: cl, id: id,
		wake:   make(chan struct{}, 1),
		done:   make(chan *delivery, 64),
		tick:   make(chan struct{}, 1),
		stopAt: make(chan time.Time, 1),
		exited: make(chan struct{}),
		gone:   make(chan struct{}),
		chains: map[chainKey]*delivery{},
	}
	go p.run()
	return p
}

// push hands polled records to the worker; it never blocks the poll loop.
func (p *partition) push(recs []*kgo.Record) {
	p.mu.Lock()
	p.queue = append(p.queue, recs...)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *partition) run() {
	defer close(p.exited)
	defer close(p.gone)
	p.startWatermark()
	for {
		p.admit()
		p.pauseWhileWaiting()
		select {
		case <-p.wake:
			p.mu.Lock()
			p.waiting = append(p.waiting, p.queue...)
			p.queue = p.queue[:0]
			p.mu.Unlock()
		case d := <-p.done:
			p.finish(d)
		case <-p.tick:
			p.timerAt = time.Time{}
		case deadline := <-p.stopAt:
			p.drain(deadline)
			return
		}
	}
}

// admit starts waiting records while the budget allows and, on a tier, while they are due;
// a head not yet due arms the timer for when it is.
func (p *partition) admit() {
	limit := p.l.s.cfg.Sender.MaxInFlight
	for len(p.waiting) > 0 && p.pending < limit {
		r := p.waiting[0]
		if p.l.delay > 0 {
			if wait := dueOf(r).Sub(p.l.s.clock.Now()); wait > 0 {
				p.arm(wait)
				return
			}
		}
		p.reserve(r.Offset)
		p.waiting[0] = nil
		p.waiting = p.waiting[1:]
		p.start(r)
	}
}

// noneFresh means every record is checked against the delivered memory.
const noneFresh = int64(1) << 62

// startWatermark reads the partition's started watermark. Only the webhook topic has one: a
// record there is read once unless an instance stopped before committing it, whereas on a retry
// tier the same delivery can come twice (a replay of dead letters, a handover racing a hand-on),
// so every delivery of a tier is checked.
func (p *partition) startWatermark() {
	p.fresh, p.reserved = noneFresh, -1
	if p.l.delay > 0 {
		return
	}
	p.mark = p.l.s.memory.watermarkKey(p.l.group, p.l.topic, p.id)
	ctx, cancel := context.WithTimeout(p.l.work, 5*time.Second)
	defer cancel()
	wm, err := p.l.s.memory.watermark(ctx, p.mark)
	if err != nil {
		p.l.s.log.Warn("started watermark unknown; every delivery is checked", "lane", p.l.name, "partition", p.id, "err", err)
		return
	}
	p.fresh, p.reserved = wm+1, wm
}

// reserve makes sure the started watermark covers offset before the record starts. Should
// Redis fail, the records from here on are checked instead.
func (p *partition) reserve(offset int64) {
	if p.mark == "" || offset <= p.reserved {
		return
	}
	ctx, cancel := context.WithTimeout(p.l.work, 5*time.Second)
	defer cancel()
	if err := p.l.s.memory.reserve(ctx, p.mark, offset+reserveAhead); err != nil {
		p.fresh = min(p.fresh, offset)
		p.l.s.metrics.RedisErrors.WithLabelValues("reserve").Inc()
		return
	}
	p.reserved = offset + reserveAhead
}

// arm makes the timer fire after wait, unless it already fires no later.
func (p *partition) arm(wait time.Duration) {
	at := p.l.s.clock.Now().Add(wait)
	if !p.timerAt.IsZero() && !p.timerAt.After(at) {
		return
	}
	if p.stopTimer != nil {
		p.stopTimer()
	}
	p.timerAt = at
	p.stopTimer = p.l.s.clock.AfterFunc(wait, func() {
		select {
		case p.tick <- struct{}{}:
		default:
		}
	})
}

// pauseWhileWaiting pauses fetching while records wait, and resumes it when none do.
func (p *partition) pauseWhileWaiting() {
	want := len(p.waiting) > 0
	if want == p.paused {
		return
	}
	p.paused = want
	tp := map[string][]int32{p.l.topic: {p.id}}
	if want {
		p.cl.PauseFetchPartitions(tp)
	} else {
		p.cl.ResumeFetchPartitions(tp)
	}
}

// start begins the deliveries of a record, each after the previous one of its chain.
func (p *partition) start(r *kgo.Record) {
	it := &item{rec: r}
	p.started = append(p.started, it)
	p.pending++
	p.l.s.metrics.RecordsConsumed.WithLabelValues(p.l.name).Inc()
	if p.l.delay == 0 {
		p.l.s.taken.Add(1)
	}
	for _, d := range p.l.s.deliveries(p.l, it) {
		d.p, d.finished, d.check = p, make(chan struct{}), r.Offset < p.fresh
		if prev := p.chains[d.chain]; prev != nil {
			d.prev = prev.finished
		}
		p.chains[d.chain] = d
		it.left++
		p.l.s.metrics.DeliveriesInFlight.Inc()
		p.l.s.inFlight.Add(1)
		p.l.s.dispatch(d)
	}
	if it.left == 0 {
		p.complete(it)
	}
}

// finished is called by a delivery when it is done, in its own goroutine.
func (p *partition) finished(d *delivery) {
	close(d.finished)
	p.l.s.metrics.DeliveriesInFlight.Dec()
	p.l.s.inFlight.Add(-1)
	select {
	case p.done <- d:
	case <-p.gone:
	}
}

func (p *partition) finish(d *delivery) {
	if p.chains[d.chain] == d {
		delete(p.chains, d.chain)
	}
	d.item.left--
	if d.item.left == 0 {
		p.complete(d.item)
	}
}

// complete marks a record finished and, if it ends the finished prefix, marks the offset
// after the prefix for commit.
func (p *partition) complete(it *item) {
	it.done = true
	p.pending--
	n := 0
	for n < len(p.started) && p.started[n].done {
		n++
	}
	if n == 0 {
		return
	}
	last := p.started[n-1].rec
	clear(p.started[:n])
	p.started = p.started[n:]
	p.cl.MarkCommitOffsets(map[string]map[int32]kgo.EpochOffset{
		p.l.topic: {p.id: {Epoch: last.LeaderEpoch, Offset: last.Offset + 1}},
	})
}

// drain waits for the deliveries in flight until deadline; those still running then are
// abandoned: their records are not marked, so the next owner reads them again.
func (p *partition) drain(deadline time.Time) {
	if p.stopTimer != nil {
		p.stopTimer()
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for p.pending > 0 {
		select {
		case d := <-p.done:
			p.finish(d)
		case <-t.C:
			p.l.s.log.Warn("deliveries abandoned unfinished; their records will be read again",
				"lane", p.l.name, "partition", p.id, "records", p.pending)
			return
		}
	}
}
