package processor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/processor/claim"
	"github.com/loyaltyhooks/loyaltyhooks/processor/lookup"
	"github.com/loyaltyhooks/loyaltyhooks/processor/rules"
	"github.com/loyaltyhooks/loyaltyhooks/processor/timer"
)

// Late lookups. A change whose events need a lookup row that has not arrived (its member, its
// tenant, the wallet's last transfer: each rule declares what it needs) does not go out with
// nulls at once: the events that can be built go out, the others wait as a deferred change.
// The deferred change (the change record itself, the triggers still owed, the time of its first
// deferral) is stored in Redis under the coordinates of its change record before the batch's
// transaction commits, so a replayed batch stores the same entry again rather than a second
// one; the ticker writes it back to the timers topic when its next attempt is due (after 1 s,
// 2 s, 4 s …), and the loop builds it again with the lookups as they are then. Once the grace
// has passed since its first deferral, its events go out with nulls, counted. A change whose
// missing row a later change of the same batch writes is put off to the end of the batch rather
// than deferred, with the later changes of its row, and built there. Its events keep
// the message ids, source and createdAt they would have had at once, and are claimed with the
// coordinates of the record that carried them, so whichever path emits an event, the claim lets
// it out once.
//
// Claims and replays: a replay of an aborted batch may decide differently from the attempt it
// replays (its row held meanwhile, a lookup row deleted). An event the aborted attempt emitted
// holds a claim with its record's coordinates, which lets no other record emit it, so before a
// batch stores its deferrals it reads the claims of the events about to wait (reclaim), and
// emits those its own record holds.
//
// Order: the events of one source row leave in the order of the row's changes. A first
// deferral holds its row: a later change of the row is deferred behind it (waiting for "order")
// even when its own lookups are there, and a deferred change is built only when no earlier
// change of its row still waits. Events of different rows carry no order between them, as
// they carry none across topics already: a member_code event deferred for its member leaves
// after the member's own later events, which are complete in themselves. After an aborted
// transaction the order may give way to exactly once (README.md, "Late lookups").

// LateLookups is how a pipeline defers the changes whose lookup rows have not arrived.
type LateLookups struct {
	// Delays are the waits before a deferred change's attempts: the n-th deferral waits
	// Delays[n-1], and the last repeats.
	Delays []time.Duration
	// Grace is the longest a change waits for its lookup rows, from its first deferral; its
	// events then go out with nulls.
	Grace time.Duration
}

// waitOrder is what a change held behind an earlier deferred change of its row waits for, in
// the place of a lookup table.
const waitOrder = "order"

// holdSlack is how long past the grace a hold on a row is trusted. A deferred change's events
// go out at the end of its grace, give or take a tick and a failover of the timers partition
// it waits on; a hold older than grace plus slack can only be left over (its change's attempts
// were lost with Redis data), and holding a row behind it would stall the row for nothing.
const holdSlack = 2 * time.Minute

// lateLookups is the deferral the configuration asks for; nil when timers.lateLookupGrace is 0.
func lateLookups(cfg config.Timers) *LateLookups {
	if cfg.LateLookupGrace <= 0 || len(cfg.LateLookupDelays) == 0 {
		return nil
	}
	return &LateLookups{Delays: slices.Clone(cfg.LateLookupDelays), Grace: cfg.LateLookupGrace}
}

func (l *LateLookups) holdLimit() time.Duration { return l.Grace + holdSlack }

// delay is the wait after the n-th deferral.
func (l *LateLookups) delay(n int) time.Duration { return l.Delays[min(n, len(l.Delays))-1] }

// defers reports whether the pipeline defers changes: it needs the lookup store to see rows
// arrive and the timer store to wait in. Without, every event is built at once.
func (p *Pipeline) defers() bool { return p.Late != nil && p.Lookups != nil && p.Timers != nil }

// rowOf names the row a change changed, for the order of its changes.
func rowOf(ch *cdc.Change) string { return ch.Table + "/" + ch.KeyText() }

// position is a change's place among the changes of its row.
func position(ch *cdc.Change) int64 {
	if ch.Source.LSN != 0 {
		return ch.Source.LSN
	}
	return ch.Source.TsMs
}

// readDeferred takes a deferred change that came due into the batch: the change is decoded from
// the record it carries and owes the triggers it names. It returns a dead letter for a record it
// cannot use.
func (p *Pipeline) readDeferred(ctx context.Context, rec *kgo.Record, def *timer.Deferred) (*kgo.Record, error) {
	orig := changeRecord(def)
	ch, err := p.Decoder.Decode(ctx, orig)
	if err != nil {
		var poison *cdc.PoisonError
		if !errors.As(err, &poison) {
			return nil, fmt.Errorf("decode deferred change %s: %w", def.ID(), err)
		}
		p.releases = append(p.releases, timer.Release{ID: def.ID(), Row: def.Row})
		return p.deadLetter(orig, poison.Reason, err), nil
	}
	var owed rules.Triggers
	if ch != nil {
		owed, err = rules.TriggerSet(ch.Table, def.Triggers)
	}
	if ch == nil || err != nil {
		p.releases = append(p.releases, timer.Release{ID: def.ID(), Row: def.Row})
		if err == nil {
			err = errors.New("the record carries no change")
		}
		return p.deadLetter(rec, ReasonBadDueRecord, fmt.Errorf("deferred change %s: %w", def.ID(), err)), nil
	}
	p.changes = append(p.changes, decoded{rec: rec, change: ch, retry: def, orig: orig, fire: rules.Firing(ch, owed)})
	p.refs = rules.References(ch, p.refs)
	return nil, nil
}

// changeRecord is the change record a deferred change carries, as it was read.
func changeRecord(def *timer.Deferred) *kgo.Record {
	headers := make([]kgo.RecordHeader, len(def.Headers))
	for i, h := range def.Headers {
		headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
	}
	return &kgo.Record{Topic: def.Topic, Partition: def.Partition, Offset: def.Offset, Timestamp: def.Timestamp,
		Key: def.Key, Value: def.Value, Headers: headers}
}

// fetchHolds notes the triggers each change of the batch fires and the lookup rows the batch
// writes, and reads the holds of the rows of the changes that fire any.
func (p *Pipeline) fetchHolds(ctx context.Context) error {
	var rows []string
	for i := range p.changes {
		d := &p.changes[i]
		if d.due != nil {
			continue
		}
		if d.retry == nil {
			d.fire = rules.Firing(d.change, rules.AllTriggers)
			if ref, ok := lookup.RefOf(d.change); ok {
				if p.later == nil {
					p.later = map[lookup.Ref]int{}
				}
				p.later[ref] = i
			}
		}
		if d.fire != 0 {
			rows = append(rows, rowOf(d.change))
		}
	}
	slices.Sort(rows)
	holds, err := p.Timers.Holds(ctx, slices.Compact(rows))
	p.holds = holds
	return err
}

// late builds the events of a change, first seen or come due again, whose lookup rows may not
// all be there: the triggers whose rows are there go out now, the others wait as a deferred
// change, unless the change's grace has passed. A change held behind an earlier change of its
// row waits whole. A change that lacks a row a later change of the batch writes is put off to
// the end of the batch instead, and so are the later changes of its row.
func (p *Pipeline) late(i int) ([]rules.Event, error) {
	d := &p.changes[i]
	ch, now := d.change, p.now()
	row, pos := rowOf(ch), position(ch)
	id, since := timer.DeferralID(d.rec.Topic, d.rec.Partition, d.rec.Offset), now
	if d.retry != nil {
		id, since = d.retry.ID(), d.retry.Since
	}
	lacking, missing := rules.Lacking(ch, p.view, d.fire, p.missing[:0])
	p.missing = missing
	if !p.lastPass && (p.putOffRow[row] || lacking != 0 && p.writtenLater(i, missing)) {
		p.putOff = append(p.putOff, i)
		if p.putOffRow == nil {
			p.putOffRow = map[string]bool{}
		}
		p.putOffRow[row] = true
		return p.events, nil
	}
	held := p.heldBehind(row, id, pos, now)
	graceOver := !p.defers() || !now.Before(since.Add(p.Late.Grace))
	ready := d.fire
	switch {
	case held:
		ready = 0
	case !graceOver:
		ready &^= lacking
	}
	evs, err := rules.ApplyTriggers(ch, p.view, ready, p.events)
	if err != nil {
		p.release(row, id, d.retry != nil) // dead-lettered: nothing of the change waits any more
		return evs, err
	}
	if pending := d.fire &^ ready; pending != 0 {
		p.deferChange(i, row, pos, since, pending, missing, held, now)
		return evs, nil
	}
	p.release(row, id, d.retry != nil)
	if d.retry != nil {
		for _, w := range d.retry.Waiting {
			p.counts.observe(p.Metrics.DeferredWaitSeconds.WithLabelValues(w), now.Sub(since).Seconds())
		}
		for _, table := range tables(missing) {
			p.counts.inc(p.Metrics.DeferredAfterGrace.WithLabelValues(table))
		}
	}
	return evs, nil
}

// writtenLater reports whether a change after the batch's i-th writes one of the rows.
func (p *Pipeline) writtenLater(i int, rows []lookup.Ref) bool {
	for _, ref := range rows {
		if j, ok := p.later[ref]; ok && j > i {
			return true
		}
	}
	return false
}

// tables lists the lookup tables of rows, each once.
func tables(rows []lookup.Ref) []string {
	var out []string
	for _, ref := range rows {
		if !slices.Contains(out, ref.Table) {
			out = append(out, ref.Table)
		}
	}
	return out
}

// heldBehind reports whether an earlier change of the row waits: a hold of a change before this
// one in the row (redelivered copies of one change do not hold each other). Holds older than
// the limit are not trusted.
func (p *Pipeline) heldBehind(row, id string, pos int64, now time.Time) bool {
	if !p.defers() {
		return false
	}
	oldest := now.Add(-p.Late.holdLimit())
	for _, h := range p.holds[row] {
		if h.ID != id && h.Position < pos && !h.Since.Before(oldest) {
			return true
		}
	}
	return false
}

// release ends the hold of a change on its row: always for a deferred change, and for a change
// first seen when the batch found it holding (stored by an attempt of this batch that aborted).
func (p *Pipeline) release(row, id string, deferred bool) {
	holds := p.holds[row]
	i := slices.IndexFunc(holds, func(h timer.Hold) bool { return h.ID == id })
	if i >= 0 {
		p.holds[row] = slices.Delete(holds, i, i+1)
	}
	if i >= 0 || deferred {
		p.releases = append(p.releases, timer.Release{ID: id, Row: row})
	}
}

// pendingDeferral is the next attempt of one of the batch's changes, to be stored.
type pendingDeferral struct {
	owner   int            // the change's index in the batch
	pending rules.Triggers // the triggers still owed
	def     *timer.Deferred
	at      time.Time
	hold    timer.Hold
}

// deferChange makes the next attempt of the batch's i-th change, which still owes the pending
// triggers. A first deferral holds the change's row; a later attempt keeps the hold it has.
func (p *Pipeline) deferChange(i int, row string, pos int64, since time.Time, pending rules.Triggers,
	missing []lookup.Ref, held bool, now time.Time) {
	d := &p.changes[i]
	attempt, waiting := 1, []string(nil)
	if d.retry != nil {
		attempt, waiting = d.retry.Attempt+1, d.retry.Waiting
	} else {
		waiting = tables(missing)
		if held {
			waiting = append(waiting, waitOrder)
		}
	}
	at := now.Add(p.Late.delay(attempt))
	if held {
		// The earlier change goes out on its own schedule; this one follows as soon as it can.
		at = now.Add(p.Late.Delays[0])
	} else if end := since.Add(p.Late.Grace); at.After(end) {
		at = end
	}
	orig := d.source()
	def := &timer.Deferred{Topic: orig.Topic, Partition: orig.Partition, Offset: orig.Offset, Timestamp: orig.Timestamp,
		Key: orig.Key, Value: orig.Value, Row: row, Waiting: waiting, Since: since, Attempt: attempt}
	for _, h := range orig.Headers {
		def.Headers = append(def.Headers, timer.Header{Key: h.Key, Value: h.Value})
	}
	hold := timer.Hold{ID: def.ID(), Position: pos, Since: since}
	p.deferrals = append(p.deferrals, pendingDeferral{owner: i, pending: pending, def: def, at: at, hold: hold})
	if d.retry == nil && !slices.ContainsFunc(p.holds[row], func(h timer.Hold) bool { return h.ID == hold.ID }) {
		if p.holds == nil {
			p.holds = map[string][]timer.Hold{}
		}
		p.holds[row] = append(p.holds[row], hold)
	}
}

// reclaim lets out now the events about to wait that an earlier attempt of their own record
// already claimed: that attempt emitted them in a batch that then aborted, and the replay
// decided otherwise (its row is held meanwhile, a lookup row was deleted). The claim makes that
// record their only emitter, so waiting would lose them. It costs a round trip only in batches
// that defer. The events go last in the batch.
func (p *Pipeline) reclaim(ctx context.Context, out *[]*kgo.Record) error {
	checker, ok := p.Claimer.(claim.Checker)
	if !ok || len(p.deferrals) == 0 {
		return nil
	}
	var checks []claim.Claim
	var bits []rules.Triggers
	for k := range p.deferrals {
		pd := &p.deferrals[k]
		d := &p.changes[pd.owner]
		for rest := pd.pending; rest != 0; rest &= rest - 1 {
			bit := rest & -rest
			checks = append(checks, claim.Claim{Index: k, MessageID: rules.MessageIDs(d.change, bit, nil)[0],
				Topic: d.rec.Topic, Partition: d.rec.Partition, Offset: d.rec.Offset})
			bits = append(bits, bit)
		}
	}
	if err := checker.Claimed(ctx, checks); err != nil {
		return fmt.Errorf("claims of %d deferred events: %w", len(checks), err)
	}
	owned := make([]rules.Triggers, len(p.deferrals))
	for j, c := range checks {
		if c.Emit {
			owned[c.Index] |= bits[j]
		}
	}
	for k, set := range owned {
		pd := &p.deferrals[k]
		d := &p.changes[pd.owner]
		if set == 0 || d.dead {
			continue
		}
		before := len(p.events)
		evs, err := rules.ApplyTriggers(d.change, p.view, set, p.events)
		if err != nil {
			p.events = p.events[:before]
			d.dead = true
			*out = append(*out, p.deadLetter(d.source(), ReasonRuleFailed, err))
			continue
		}
		p.events = evs
		for range p.events[before:] {
			p.owners = append(p.owners, pd.owner)
		}
		pd.pending &^= set
	}
	return nil
}

// writeDeferrals stores the batch's deferred changes and releases, before anything of the batch
// is claimed or produced: a deferred change is in Redis before the transaction that commits its
// source offset. A change dead-lettered since, or owing nothing any more, waits no longer.
func (p *Pipeline) writeDeferrals(ctx context.Context) error {
	if p.Timers == nil || len(p.deferrals)+len(p.releases) == 0 {
		return nil
	}
	ds := make([]timer.Deferral, 0, len(p.deferrals))
	for _, pd := range p.deferrals {
		d := &p.changes[pd.owner]
		if d.dead || pd.pending == 0 {
			p.releases = append(p.releases, timer.Release{ID: pd.hold.ID, Row: pd.def.Row})
			continue
		}
		pd.def.Triggers = rules.TriggerNames(d.change.Table, pd.pending)
		ds = append(ds, timer.Deferral{ID: pd.hold.ID, Row: pd.def.Row, At: pd.at, First: d.retry == nil, Hold: pd.hold,
			Record: timer.Due{Kind: timer.KindDeferred, Deferred: pd.def}.Encode()})
		if d.retry == nil {
			for _, w := range pd.def.Waiting {
				p.counts.inc(p.Metrics.DeferredChanges.WithLabelValues(w))
			}
		}
	}
	var ttl time.Duration
	if p.Late != nil {
		ttl = p.Late.holdLimit()
	}
	return p.Timers.Defer(ctx, ds, p.releases, ttl)
}
