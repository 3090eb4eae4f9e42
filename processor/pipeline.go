package processor

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/failpoint"
	"github.com/loyaltyhooks/loyaltyhooks/processor/claim"
	"github.com/loyaltyhooks/loyaltyhooks/processor/lookup"
	"github.com/loyaltyhooks/loyaltyhooks/processor/rules"
	"github.com/loyaltyhooks/loyaltyhooks/processor/timer"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
)

// Headers of webhook records (CONTRACT §3).
const (
	HeaderEventName = "event-name"
	HeaderMessageID = "message-id"
	HeaderStoreCode = "store-code"
)

// Headers a dead-lettered record carries besides its original ones.
const (
	HeaderDeadReason    = "dlq-reason"
	HeaderDeadError     = "dlq-error"
	HeaderDeadTopic     = "dlq-source-topic"
	HeaderDeadPartition = "dlq-source-partition"
	HeaderDeadOffset    = "dlq-source-offset"
)

// Dead-letter reasons besides the decoder's (cdc.PoisonError reasons).
const (
	ReasonRuleFailed   = "rule-failed"
	ReasonEncodeFailed = "encode-failed"
)

// Encoder frames one webhook event for the topic.
type Encoder interface {
	Encode(dst []byte, e *schemas.Event) ([]byte, error)
}

// Pipeline turns one polled batch of change records into the records to produce in its
// transaction. It holds no Kafka client: the loop owns transport, the pipeline owns the work.
type Pipeline struct {
	Decoder *cdc.Decoder
	// Lookups is where lookup rows live between batches. Without a store the view itself keeps
	// every lookup row the pipeline has seen (one instance, nothing shared: benchmarks, tests).
	Lookups      *lookup.Store
	Encoder      Encoder
	Claimer      claim.Claimer
	WebhookTopic string
	DeadTopic    string
	Metrics      *Metrics
	Now          func() time.Time
	// Timers holds the expiry timers the changes schedule; nil leaves timers alone (benchmarks,
	// tests). TimersTopic is where due timers come back from.
	Timers      *timer.Store
	TimersTopic string
	// Late defers the changes whose events need lookup rows that have not arrived (see
	// deferral.go); it takes effect with Lookups and Timers set. Without it every event is
	// built at once, a missing row giving nulls (benchmarks, golden tests).
	Late *LateLookups

	view    *lookup.View
	dueView *lookup.View // the entity rows of a batch's due timers
	// counts holds what the batch counts until its transaction commits (see Committed).
	counts  batchCounts
	timers  []rules.Timer // the timers the batch's changes set or cancel
	changes []decoded
	// decodedRecs holds what decoding each record of the batch gave, in the batch's order.
	decodedRecs []decodeResult
	refs        []lookup.Ref
	events      []rules.Event
	owners      []int // index into changes of each event
	claims      []claim.Claim
	encoded     [][]byte
	buf         []byte // the batch's record bytes
	bufSize     int    // the last batch's, to size the next

	// Deferral state of the batch: the holds of its rows as the batch leaves them, the
	// deferred changes and the released holds to store, and the changes put off to the end of
	// the batch for a row a later change of the batch writes.
	holds     map[string][]timer.Hold
	deferrals []pendingDeferral
	releases  []timer.Release
	missing   []lookup.Ref
	later     map[lookup.Ref]int // the last change of the batch that writes each lookup row
	putOff    []int
	putOffRow map[string]bool
	lastPass  bool // applying the changes put off
}

type decoded struct {
	rec    *kgo.Record
	change *cdc.Change
	due    *timer.Due // a due timer from the timers topic, instead of a change
	// retry is a deferred change come due again, read from the timers-topic record rec; change
	// is decoded from its change record orig.
	retry *timer.Deferred
	orig  *kgo.Record
	fire  rules.Triggers // with deferral on: the triggers the change fires (a retry: still owes)
	dead  bool           // the change's events failed; the record goes to the dead-letter topic
}

// source is the change record of an entry: what a dead letter copies.
func (d *decoded) source() *kgo.Record {
	if d.orig != nil {
		return d.orig
	}
	return d.rec
}

// Process runs decode → lookups → rules → encode → claim over a batch and returns the webhook and
// dead-letter records to produce, in source order. With deferral on, the events whose lookup
// rows have not arrived are stored as deferred changes before anything is claimed. An error is
// transient (Redis, the registry): the caller aborts the transaction and polls the batch again.
func (p *Pipeline) Process(ctx context.Context, recs []*kgo.Record) ([]*kgo.Record, error) {
	if p.view == nil {
		p.view = lookup.NewView()
	}
	if p.Lookups != nil {
		p.view.Reset()
	}
	p.changes, p.refs, p.events, p.owners = p.changes[:0], p.refs[:0], p.events[:0], p.owners[:0]
	p.timers, p.deferrals, p.releases, p.holds = p.timers[:0], p.deferrals[:0], p.releases[:0], nil
	p.putOff, p.later, p.putOffRow = p.putOff[:0], nil, nil
	p.counts.drop() // an earlier batch's that did not commit
	var out []*kgo.Record
	phase := time.Now()

	decodedRecs := p.decodeAll(ctx, recs)
	for k, rec := range recs {
		if rec.Topic == p.TimersTopic {
			dead, err := p.readDue(ctx, rec)
			if err != nil {
				return nil, err
			}
			if dead != nil {
				out = append(out, dead)
			}
			continue
		}
		ch, err := decodedRecs[k].change, decodedRecs[k].err
		switch {
		case err != nil:
			// Declared on error only: errors.As takes its address, which puts it on the heap.
			var poison *cdc.PoisonError
			if !errors.As(err, &poison) {
				return nil, fmt.Errorf("decode %s/%d@%d: %w", rec.Topic, rec.Partition, rec.Offset, err)
			}
			out = append(out, p.deadLetter(rec, poison.Reason, err))
			continue
		case ch == nil:
			p.counts.inc(p.Metrics.RecordsSkipped.WithLabelValues(rec.Topic))
			continue
		}
		p.counts.inc(p.Metrics.RecordsConsumed.WithLabelValues(ch.Table))
		p.changes = append(p.changes, decoded{rec: rec, change: ch})
		p.refs = rules.References(ch, p.refs)
		if ref, ok := lookup.Stored(ch); ok {
			p.refs = append(p.refs, ref)
		}
	}
	p.Metrics.phase(&phase, phaseDecode)
	if err := p.dueReferences(ctx); err != nil {
		return nil, err
	}
	if p.Lookups != nil {
		if err := p.Lookups.Fetch(ctx, p.view, p.refs); err != nil {
			return nil, err
		}
	}
	p.Metrics.phase(&phase, phaseLookups)
	if p.defers() {
		if err := p.fetchHolds(ctx); err != nil {
			return nil, err
		}
	}
	p.Metrics.phase(&phase, phaseHolds)

	var lastTs int64
	for i := range p.changes {
		d := &p.changes[i]
		out = p.applyOne(i, out)
		if d.retry == nil { // a retry's row was recorded when it was first read
			lookup.Record(p.view, d.change)
			lastTs = max(lastTs, d.change.Source.TsMs)
		}
	}
	p.lastPass = true
	for _, i := range p.putOff {
		out = p.applyOne(i, out)
	}
	p.lastPass = false
	if err := p.reclaim(ctx, &out); err != nil {
		return nil, err
	}
	p.Metrics.phase(&phase, phaseRules)
	for table, n := range p.view.Misses() {
		p.counts.add(p.Metrics.LookupMisses.WithLabelValues(table), float64(n))
	}
	if lastTs > 0 && p.Now != nil {
		p.Metrics.CDCLagSeconds.Set(p.Now().Sub(time.UnixMilli(lastTs)).Seconds())
	}
	if p.Lookups != nil {
		if err := p.Lookups.Flush(ctx, p.view); err != nil {
			return nil, err
		}
		failpoint.Hit(failpoint.AfterLookupsFlush)
	} else {
		clear(p.view.Dirty()) // nowhere to flush them: the view itself is the store
	}
	if err := p.writeTimers(ctx); err != nil {
		return nil, err
	}
	p.Metrics.phase(&phase, phaseStore)

	if err := p.encode(&out); err != nil {
		return nil, err
	}
	p.Metrics.phase(&phase, phaseEncode)
	if err := p.writeDeferrals(ctx); err != nil {
		return nil, err
	}
	p.Metrics.phase(&phase, phaseDefer)
	if err := p.claim(ctx); err != nil {
		return nil, err
	}
	p.Metrics.phase(&phase, phaseClaim)
	return p.emit(out), nil
}

// Committed counts what the last batch counted: the transaction that wrote its records
// committed. Counts of a batch that did not commit are dropped by the next Process.
func (p *Pipeline) Committed() { p.counts.count() }

// decodeChunk is the fewest change records worth a goroutine of their own.
const decodeChunk = 64

// decodeResult is what decoding one record of the batch gave.
type decodeResult struct {
	change *cdc.Change
	err    error
}

// decodeAll decodes the batch's change records (not its timers-topic records) on every core:
// each record decodes on its own, and decoding is most of a batch's work. The results line up
// with recs.
func (p *Pipeline) decodeAll(ctx context.Context, recs []*kgo.Record) []decodeResult {
	if cap(p.decodedRecs) < len(recs) {
		p.decodedRecs = make([]decodeResult, len(recs))
	}
	res := p.decodedRecs[:len(recs)]
	clear(res)
	decode := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if recs[i].Topic != p.TimersTopic {
				res[i].change, res[i].err = p.Decoder.Decode(ctx, recs[i])
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(recs)/decodeChunk)
	if workers <= 1 {
		decode(0, len(recs))
		return res
	}
	chunk := (len(recs) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := chunk; lo < len(recs); lo += chunk {
		wg.Go(func() { decode(lo, min(lo+chunk, len(recs))) })
	}
	decode(0, chunk)
	wg.Wait()
	return res
}

// applyOne applies the rules to the batch's i-th entry, noting its events, or its dead letter.
func (p *Pipeline) applyOne(i int, out []*kgo.Record) []*kgo.Record {
	d := &p.changes[i]
	before := len(p.events)
	evs, err := p.apply(i)
	if err != nil {
		p.events = p.events[:before]
		d.dead = true
		return append(out, p.deadLetter(d.source(), ReasonRuleFailed, err))
	}
	p.events = evs
	for range p.events[before:] {
		p.owners = append(p.owners, i)
	}
	return out
}

// encode encodes every event into the batch's buffer; a change any of whose events cannot be
// encoded is dead-lettered whole, so no change is ever half emitted.
func (p *Pipeline) encode(out *[]*kgo.Record) error {
	// One buffer per batch holds every value, key and header of the batch's records: the records
	// stay in flight until the transaction ends, so the buffer is never reused.
	p.buf = make([]byte, 0, max(p.bufSize, 4096))
	if cap(p.encoded) < len(p.events) {
		p.encoded = make([][]byte, len(p.events))
	}
	p.encoded = p.encoded[:len(p.events)]
	for i := range p.events {
		d := &p.changes[p.owners[i]]
		if d.dead {
			continue
		}
		start := len(p.buf)
		b, err := p.Encoder.Encode(p.buf, &p.events[i].Event)
		if err != nil {
			d.dead = true
			*out = append(*out, p.deadLetter(d.source(), ReasonEncodeFailed,
				fmt.Errorf("encode %s %s: %w", p.events[i].EventName, p.events[i].MessageID, err)))
			continue
		}
		p.buf = b
		p.encoded[i] = b[start:len(b):len(b)]
	}
	return nil
}

// claim asks the claimer about every event of a change that is not dead-lettered: an event that
// will not be produced must not hold a claim. An event claims with the coordinates of the record
// of the batch it came from: a change record, or the timers-topic record that brought a timer or
// a deferred change back, so that only a replay of that very record emits it again.
func (p *Pipeline) claim(ctx context.Context) error {
	p.claims = p.claims[:0]
	for i := range p.events {
		d := &p.changes[p.owners[i]]
		if d.dead {
			continue
		}
		p.claims = append(p.claims, claim.Claim{Index: i,
			MessageID: p.events[i].MessageID, Topic: d.rec.Topic, Partition: d.rec.Partition, Offset: d.rec.Offset})
	}
	if len(p.claims) == 0 {
		return nil
	}
	if err := p.Claimer.Claim(ctx, p.claims); err != nil {
		return fmt.Errorf("claim %d events: %w", len(p.claims), err)
	}
	failpoint.Hit(failpoint.AfterClaims)
	return nil
}

// emit appends the webhook records of the claimed events, carved from per-batch slabs, and
// counts the others as duplicates.
func (p *Pipeline) emit(out []*kgo.Record) []*kgo.Record {
	n := 0
	for i := range p.claims {
		if p.claims[i].Emit {
			n++
		}
	}
	if n < len(p.claims) {
		p.counts.add(p.Metrics.DuplicatesDropped, float64(len(p.claims)-n))
	}
	if n == 0 {
		return out
	}
	recs := make([]kgo.Record, n)
	headers := make([]kgo.RecordHeader, 3*n)
	out = slices.Grow(out, n)
	k := 0
	for _, c := range p.claims {
		if !c.Emit {
			continue
		}
		ev := &p.events[c.Index]
		h := headers[3*k : 3*k+3 : 3*k+3]
		h[0] = kgo.RecordHeader{Key: HeaderEventName, Value: p.bytes(ev.EventName)}
		h[1] = kgo.RecordHeader{Key: HeaderMessageID, Value: p.bytes(ev.MessageID)}
		h[2] = kgo.RecordHeader{Key: HeaderStoreCode, Value: p.bytes(ev.StoreCode)}
		recs[k] = kgo.Record{Topic: p.WebhookTopic, Key: p.bytes(ev.Key), Value: p.encoded[c.Index], Headers: h}
		out = append(out, &recs[k])
		k++
	}
	p.bufSize = len(p.buf)
	return out
}

// bytes copies s into the batch buffer.
func (p *Pipeline) bytes(s string) []byte {
	start := len(p.buf)
	p.buf = append(p.buf, s...)
	return p.buf[start:len(p.buf):len(p.buf)]
}

// deadLetter copies a record to the dead-letter topic with headers saying why.
func (p *Pipeline) deadLetter(rec *kgo.Record, reason string, err error) *kgo.Record {
	headers := make([]kgo.RecordHeader, 0, len(rec.Headers)+5)
	headers = append(headers, rec.Headers...)
	headers = append(headers,
		kgo.RecordHeader{Key: HeaderDeadReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: HeaderDeadError, Value: []byte(err.Error())},
		kgo.RecordHeader{Key: HeaderDeadTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: HeaderDeadPartition, Value: []byte(strconv.Itoa(int(rec.Partition)))},
		kgo.RecordHeader{Key: HeaderDeadOffset, Value: []byte(strconv.FormatInt(rec.Offset, 10))},
	)
	return &kgo.Record{Topic: p.DeadTopic, Key: rec.Key, Value: rec.Value, Headers: headers}
}

// NewMemoryPipeline returns a pipeline that needs no outside service: lookups live in its own
// view, events are written in single-object encoding, and c decides the claims. Benchmarks and
// the expected-output side of tests run changes through it.
func NewMemoryPipeline(cfg config.Config, c claim.Claimer) (*Pipeline, error) {
	dec, err := cdc.NewDecoder(cfg.Source, nil)
	if err != nil {
		return nil, err
	}
	codec, err := schemas.New()
	if err != nil {
		return nil, err
	}
	w, err := schemas.NewWriter(context.Background(), codec, nil, "")
	if err != nil {
		return nil, err
	}
	return &Pipeline{Decoder: dec, Encoder: w, Claimer: c,
		WebhookTopic: cfg.Topics.Webhooks, DeadTopic: cfg.Topics.CDCDeadLetter, Metrics: NewMetrics(nil)}, nil
}
