package processor

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
	"github.com/loyaltyhooks/loyaltyhooks/processor/lookup"
	"github.com/loyaltyhooks/loyaltyhooks/processor/rules"
	"github.com/loyaltyhooks/loyaltyhooks/processor/timer"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
)

// The expiry timers, wired into the processor: changes schedule timers as the pipeline reads
// them, a ticker turns the timers of the shards this instance owns into due records on the
// timers topic, and the pipeline reads those back, re-checks each entity against the lookups and
// emits its event through the claim like any other.

// ReasonBadDueRecord is the dead-letter reason of a timers-topic record that is not a due record
// this version understands.
const ReasonBadDueRecord = "bad-due-record"

// WithClock sets the clock that timers are judged and scanned by (default: the wall clock).
func WithClock(c timer.Clock) Option { return func(o *options) { o.clock = c } }

// WithTimerScanHook runs hook in every timer scan after its due records are written and before
// their timers are removed, the window in which ownership may move mid-scan.
func WithTimerScanHook(hook func()) Option { return func(o *options) { o.timerScanHook = hook } }

func (o *options) timerClock() timer.Clock {
	if o.clock == nil {
		return timer.SystemClock{}
	}
	return o.clock
}

func newTicker(cfg config.Config, o *options, m *Metrics) *timer.Ticker {
	var triggers []timer.Trigger
	for _, e := range rules.ExpiryTriggers() {
		triggers = append(triggers, timer.Trigger{Name: e.Trigger, DaysColumn: e.DaysColumn})
	}
	return timer.NewTicker(timer.Config{
		Store:        timer.NewStore(o.redis, cfg.Redis.KeyPrefix),
		Lookups:      lookup.NewStore(o.redis, cfg.Redis.KeyPrefix),
		Topic:        cfg.Topics.Timers,
		Triggers:     triggers,
		DefaultDays:  cfg.Timers.NotificationDays,
		MaxPerTick:   cfg.Timers.MaxPerTick,
		Clock:        o.timerClock(),
		Metrics:      m.Timers,
		Log:          o.log,
		AfterProduce: o.timerScanHook,
	})
}

// LastTimerScan is the clock time of this instance's last completed timer scan; zero before
// the first.
func (p *Processor) LastTimerScan() time.Time { return p.ticker.LastTick() }

// startTimers runs the ticker until the returned stop is called. Due records are written by a
// client of their own, outside the loop's transactions: a due record is not part of any batch.
func (p *Processor) startTimers(ctx context.Context) (stop func(), err error) {
	cl, err := connect.KafkaClient(p.cfg.Kafka, slices.Concat(p.kopts, []kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner())})...)
	if err != nil {
		return nil, fmt.Errorf("timers kafka client: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { p.ticker.Run(ctx, cl, p.cfg.Timers.Tick, p.cfg.Processor.ShutdownTimeout) })
	return func() {
		cancel()
		wg.Wait()
		cl.Close()
	}, nil
}

// ownTimers and disownTimers make timer ownership follow the consumer group: the partitions of
// the timers topic an instance owns decide the shards it scans.
func (p *Processor) ownTimers(m map[string][]int32)    { p.ticker.Own(m[p.cfg.Topics.Timers]) }
func (p *Processor) disownTimers(m map[string][]int32) { p.ticker.Disown(m[p.cfg.Topics.Timers]) }

// dueChange stands in the batch for a due record, which is no row change: it names no table,
// so neither the row rules nor the lookups act on it.
var dueChange = &cdc.Change{}

// readDue takes a record of the timers topic into the batch, or returns its dead letter. An
// error is transient (the registry, decoding a deferred change).
func (p *Pipeline) readDue(ctx context.Context, rec *kgo.Record) (*kgo.Record, error) {
	due, err := timer.DecodeDue(rec.Value)
	if err != nil {
		return p.deadLetter(rec, ReasonBadDueRecord, err), nil
	}
	if due.Kind == timer.KindDeferred {
		return p.readDeferred(ctx, rec, due.Deferred)
	}
	ref, ok := rules.ExpiryRow(due.Trigger, due.Entity)
	if !ok {
		return p.deadLetter(rec, ReasonBadDueRecord, fmt.Errorf("due record of unknown trigger %q", due.Trigger)), nil
	}
	p.changes = append(p.changes, decoded{rec: rec, change: dueChange, due: &due})
	p.refs = append(p.refs, ref)
	return nil, nil
}

// dueReferences adds to the batch's lookups the rows the due timers' events refer to: those
// are known only from the entity rows, read here first.
func (p *Pipeline) dueReferences(ctx context.Context) error {
	if p.Lookups == nil {
		return nil
	}
	var entities []lookup.Ref
	for i := range p.changes {
		if d := p.changes[i].due; d != nil {
			ref, _ := rules.ExpiryRow(d.Trigger, d.Entity)
			entities = append(entities, ref)
		}
	}
	if len(entities) == 0 {
		return nil
	}
	if p.dueView == nil {
		p.dueView = lookup.NewView()
	}
	p.dueView.Reset()
	if err := p.Lookups.Fetch(ctx, p.dueView, entities); err != nil {
		return err
	}
	for i := range p.changes {
		if d := p.changes[i].due; d != nil {
			ref, _ := rules.ExpiryRow(d.Trigger, d.Entity)
			p.refs = rules.ExpiryReferences(d.Trigger, p.dueView.Row(ref.Table, ref.Key), p.refs)
		}
	}
	return nil
}

// apply is the rules' answer for the batch's i-th entry: the event of a due timer, the events
// still owed by a deferred change, or the row triggers of a change, noting the timers the
// change schedules or cancels.
func (p *Pipeline) apply(i int) ([]rules.Event, error) {
	d := &p.changes[i]
	switch {
	case d.due != nil:
		return p.expire(d)
	case d.retry != nil:
		return p.late(i)
	}
	if p.Timers != nil && !p.lastPass {
		p.timers = rules.Timers(d.change, p.view, p.timers)
	}
	if p.defers() {
		if d.fire == 0 {
			return p.events, nil
		}
		return p.late(i)
	}
	return rules.Apply(d.change, p.view, p.events)
}

// expire emits a due timer's event, unless its expiry has passed by now or the entity no longer
// qualifies with that expiry (cancelled or moved since the scan): then nothing, counted.
func (p *Pipeline) expire(d *decoded) ([]rules.Event, error) {
	t := rules.Timer{Trigger: d.due.Trigger, Tenant: d.due.Tenant, Entity: d.due.Entity, ExpiresAt: d.due.ExpiresAt}
	if !p.now().Before(t.ExpiresAt) {
		p.counts.inc(p.Metrics.Timers.Stale.WithLabelValues(t.Trigger))
		return p.events, nil
	}
	src := schemas.Source{Topic: d.rec.Topic, Partition: d.rec.Partition, Offset: d.rec.Offset}
	evs, fired, err := rules.Expire(t, src, d.due.DueAt, p.view, p.events)
	if err == nil && !fired {
		p.counts.inc(p.Metrics.Timers.Stale.WithLabelValues(t.Trigger))
	}
	return evs, err
}

// writeTimers stores the timers the batch's changes scheduled and cancelled, after the lookup
// rows, so that a timer never comes due before the row it re-checks is stored. An expiry that
// has passed cancels: a timer never fires after it.
func (p *Pipeline) writeTimers(ctx context.Context) error {
	if p.Timers == nil || len(p.timers) == 0 {
		return nil
	}
	now := p.now()
	ts := make([]timer.Timer, len(p.timers))
	cancels := 0
	for i, t := range p.timers {
		ts[i] = timer.Timer{Tenant: t.Tenant, Trigger: t.Trigger, Entity: t.Entity, At: t.ExpiresAt}
		if !t.ExpiresAt.After(now) {
			ts[i].At = time.Time{}
			cancels++
		}
	}
	if err := p.Timers.Write(ctx, ts); err != nil {
		return err
	}
	p.counts.add(p.Metrics.Timers.Writes.WithLabelValues("schedule"), float64(len(ts)-cancels))
	p.counts.add(p.Metrics.Timers.Writes.WithLabelValues("cancel"), float64(cancels))
	return nil
}

func (p *Pipeline) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}
