package sender

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
	"github.com/loyaltyhooks/loyaltyhooks/sender/endpoint"
	"github.com/loyaltyhooks/loyaltyhooks/sender/signature"
	"github.com/loyaltyhooks/loyaltyhooks/sender/ssrf"
	"github.com/loyaltyhooks/loyaltyhooks/sender/subscription"
)

// chainKey orders deliveries: those with the same subscription and member (the record key)
// are attempted one after the other, in offset order.
type chainKey struct{ subscription, member string }

// delivery is one record on its way to one subscription, or an unreadable record on its way
// to the dead-letter topic.
type delivery struct {
	p        *partition
	item     *item
	sub      *subscription.Subscription
	ev       *schemas.Event
	chain    chainKey
	prev     <-chan struct{} // closed when the previous delivery of the chain has finished
	finished chan struct{}
	history  []Attempt
	poison   error
	check    bool      // the record may have been started before: ask the delivered memory first
	turn     time.Time // when waiting for a free slot of the endpoint ends
}

// deliveries are what a record asks for: one per matching subscription on the main lane; on a
// tier, one for the subscription the record names, if it still receives events.
func (s *Sender) deliveries(l *lane, it *item) []*delivery {
	r := it.rec
	var subs []*subscription.Subscription
	name := header(r, "event-name")
	if l.delay == 0 && name != "" {
		// The processor's headers name the event and store: an event nobody subscribed to is
		// not even decoded.
		if subs = s.view.Match(header(r, "store-code"), name); len(subs) == 0 {
			return nil
		}
	}
	ev, err := s.reader.Decode(r.Value)
	if err != nil {
		return []*delivery{{item: it, poison: err}}
	}
	if l.delay == 0 {
		if name == "" {
			subs = s.view.Match(ev.StoreCode, ev.EventName)
		}
		out := make([]*delivery, len(subs))
		for i, sub := range subs {
			out[i] = &delivery{item: it, sub: sub, ev: ev, chain: chainKey{sub.ID, string(r.Key)}}
		}
		return out
	}
	id := header(r, HeaderSubscription)
	sub := s.view.Get(id)
	if sub == nil {
		s.metrics.Skipped.WithLabelValues("subscription_gone").Inc()
		return nil
	}
	history, err := History(r)
	if err != nil {
		s.log.Warn("attempt history unreadable; it starts afresh", "lane", l.name, "err", err)
	}
	return []*delivery{{item: it, sub: sub, ev: ev, chain: chainKey{sub.ID, string(r.Key)}, history: history}}
}

// dispatch starts a delivery. One that needs nothing first goes straight to its endpoint's
// queue; one that must wait for the previous delivery of its chain, or ask the delivered
// memory, does so in a goroutine of its own.
func (s *Sender) dispatch(d *delivery) {
	switch {
	case d.poison != nil:
		go func() {
			s.deadLetter(d, DeadUndecodable, kgo.RecordHeader{Key: HeaderDeadError, Value: []byte(d.poison.Error())})
			d.p.finished(d)
		}()
	case d.prev != nil || d.check:
		go s.prepare(d)
	default:
		s.submit(d, time.Now().Add(s.cfg.Sender.QueueTimeout))
	}
}

// prepare waits for the delivery's turn and asks whether it was delivered before, then queues
// it at its endpoint.
func (s *Sender) prepare(d *delivery) {
	turn := time.Now().Add(s.cfg.Sender.QueueTimeout)
	if d.prev != nil && !s.waitTurn(d, turn) {
		d.p.finished(d)
		return
	}
	if d.check {
		found, ok := s.memory.delivered(d.sub.ID, d.ev.MessageID, d.ev.CreatedAt, d.p.gone)
		if !ok || found {
			if found {
				s.metrics.Skipped.WithLabelValues("already_delivered").Inc()
			}
			d.p.finished(d)
			return
		}
	}
	s.submit(d, turn)
}

// submit queues the delivery at its endpoint, to be attempted by turn or handed on.
func (s *Sender) submit(d *delivery, turn time.Time) {
	d.turn = turn
	s.endpoints.Get(d.sub.Endpoint).Submit(d)
}

// Deadline is when the delivery stops waiting for a free slot of its endpoint.
func (d *delivery) Deadline() time.Time { return d.turn }

// Expire hands on a delivery that waited past sender.queueTimeout for a free slot.
func (d *delivery) Expire() {
	s := d.p.l.s
	if !isClosed(d.p.gone) {
		s.fail(d, s.notAttempted(d, OutcomeDeferred, "waited past sender.queueTimeout for a free slot of the endpoint"))
	}
	d.p.finished(d)
}

// Run makes the attempt on a worker of the endpoint, unless the breaker is open. A failure is
// handed on in a goroutine of its own, so that the worker is free for the next attempt.
func (d *delivery) Run(ep *endpoint.Endpoint) {
	s := d.p.l.s
	if isClosed(d.p.gone) {
		d.p.finished(d)
		return
	}
	if !ep.Allow() {
		go s.failThenFinish(d, s.notAttempted(d, OutcomeBreakerOpen, "the endpoint's circuit breaker is open"))
		return
	}
	a := s.attempt(d)
	ep.Done(a.endpointFailed())
	s.metrics.Attempts.WithLabelValues(a.Outcome, a.statusClass()).Inc()
	if a.Outcome != OutcomeDelivered {
		go s.failThenFinish(d, a)
		return
	}
	s.memory.remember(d.sub.ID, d.ev.MessageID, d.ev.CreatedAt, d.p.gone)
	s.metrics.DeliveredLag.Observe(s.clock.Now().Sub(d.ev.CreatedAt).Seconds())
	d.p.finished(d)
}

// failThenFinish hands a failed delivery on and finishes it.
func (s *Sender) failThenFinish(d *delivery, a Attempt) {
	s.fail(d, a)
	d.p.finished(d)
}

// waitTurn waits for the previous delivery of the chain until turn; one that waits longer is
// handed to the next tier. It reports whether the delivery goes on.
func (s *Sender) waitTurn(d *delivery, turn time.Time) bool {
	t := time.NewTimer(time.Until(turn))
	defer t.Stop()
	select {
	case <-d.prev:
		return true
	case <-t.C:
		s.fail(d, s.notAttempted(d, OutcomeDeferred, "waited past sender.queueTimeout for the previous delivery to this subscription and member"))
	case <-d.p.gone:
	}
	return false
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// notAttempted records a turn that did not reach the endpoint.
func (s *Sender) notAttempted(d *delivery, outcome, why string) Attempt {
	s.metrics.Attempts.WithLabelValues(outcome, "none").Inc()
	return Attempt{At: s.clock.Now(), Lane: d.p.l.name, Outcome: outcome, Error: why}
}

// fail adds the attempt to the history and hands the delivery on: to the next retry tier, or
// to the dead-letter topic when retrying cannot help or no retry is left.
func (s *Sender) fail(d *delivery, a Attempt) {
	d.history = append(d.history, a)
	switch delay, ok := s.tiers.next(len(d.history), a.retryAfter); {
	case a.permanent():
		s.deadLetter(d, a.Outcome)
	case !ok:
		s.deadLetter(d, DeadExhausted)
	default:
		due := s.tiers.due(s.clock.Now(), delay)
		rec := handOn(d.item.rec, s.tiers.topic(delay), d.sub.ID, d.history,
			kgo.RecordHeader{Key: HeaderDue, Value: strconv.AppendInt(nil, due.UnixMilli(), 10)})
		if s.produce(d.p, rec) {
			s.metrics.RetriesScheduled.WithLabelValues(config.TierName(delay)).Inc()
		}
	}
}

// deadLetter sends the delivery, its history and the reason to the dead-letter topic.
func (s *Sender) deadLetter(d *delivery, reason string, extra ...kgo.RecordHeader) {
	subID := ""
	if d.sub != nil {
		subID = d.sub.ID
	}
	extra = append(extra, kgo.RecordHeader{Key: HeaderDeadReason, Value: []byte(reason)})
	if s.produce(d.p, handOn(d.item.rec, s.cfg.Topics.Dead, subID, d.history, extra...)) {
		s.metrics.DeadLetters.WithLabelValues(reason).Inc()
		s.log.Warn("delivery dead-lettered", "reason", reason, "subscription", subID,
			"topic", d.item.rec.Topic, "partition", d.item.rec.Partition, "offset", d.item.rec.Offset)
	}
}

// produce writes rec, retrying until it is acknowledged or the partition is abandoned; the
// record's offset must not be committed before its deliveries are safe in a tier.
func (s *Sender) produce(p *partition, rec *kgo.Record) bool {
	wait := 100 * time.Millisecond
	for {
		if isClosed(p.gone) {
			return false
		}
		err := s.producer.ProduceSync(p.l.work, rec).FirstErr()
		if err == nil {
			return true
		}
		s.log.Warn("could not hand a delivery on; retrying", "topic", rec.Topic, "err", err)
		select {
		case <-p.gone:
			return false
		case <-p.l.work.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// bodySize is the capacity a request body starts with; it grows with the largest seen.
var bodySize atomic.Int64

// attempt makes one HTTP request of a delivery.
func (s *Sender) attempt(d *delivery) Attempt {
	requestID := newRequestID()
	a := Attempt{At: s.clock.Now(), Lane: d.p.l.name, RequestID: requestID}
	body, err := s.codec.AppendJSON(make([]byte, 0, bodySize.Load()), d.ev, requestID)
	if err != nil {
		a.Outcome, a.Error = OutcomeInvalid, err.Error()
		return a
	}
	if n := int64(len(body)); n > bodySize.Load() {
		bodySize.Store(n)
	}
	ctx, cancel := context.WithTimeout(d.p.l.work, s.cfg.Sender.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.sub.URL, bytes.NewReader(body))
	if err != nil {
		a.Outcome, a.Error = OutcomeInvalid, "the subscription's URL makes no request"
		return a
	}
	h := req.Header
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{userAgent}
	for _, x := range d.sub.Headers {
		h.Set(x.Name, x.Value)
	}
	h[signature.HeaderID] = []string{d.ev.MessageID}
	h[signature.HeaderTimestamp] = []string{strconv.FormatInt(a.At.Unix(), 10)}
	if len(d.sub.Secrets) > 0 {
		h[signature.HeaderSignature] = []string{string(signature.AppendSign(nil, d.sub.Secrets, d.ev.MessageID, a.At.Unix(), body))}
	}
	start := time.Now()
	resp, err := s.transport.RoundTrip(req)
	if err == nil {
		a.Status = resp.StatusCode
		a.Response, err = s.readResponse(resp, a.Status < 200 || a.Status > 299)
		a.retryAfter = retryAfter(resp.Header.Get("Retry-After"), a.At)
	}
	a.Millis = time.Since(start).Milliseconds()
	s.metrics.AttemptSeconds.Observe(time.Since(start).Seconds())
	switch {
	case err != nil:
		a.Outcome, a.Error = classify(err)
	case a.Status >= 200 && a.Status < 300:
		a.Outcome = OutcomeDelivered
	default:
		a.Outcome = OutcomeFailed
	}
	return a
}

// userAgent names the sender to receivers.
const userAgent = "loyaltyhooks-sender"

// keptResponse is how much of a failed response's body the history keeps.
const keptResponse = 256

// readResponse reads at most sender.maxResponseBytes of the body, so the connection can be
// reused, and returns its start when keep is set.
func (s *Sender) readResponse(resp *http.Response, keep bool) (string, error) {
	defer resp.Body.Close()
	var start [keptResponse]byte
	n, err := io.ReadFull(resp.Body, start[:min(keptResponse, s.cfg.Sender.MaxResponseBytes)])
	switch err {
	case io.EOF, io.ErrUnexpectedEOF:
		err = nil
	case nil:
		_, err = io.CopyN(io.Discard, resp.Body, s.cfg.Sender.MaxResponseBytes-int64(n))
		if err == io.EOF {
			err = nil
		}
	}
	if !keep {
		return "", err
	}
	out := start[:n]
	for len(out) > 0 && !utf8.Valid(out) {
		out = out[:len(out)-1] // a multi-byte character cut at the limit
	}
	return string(out), err
}

// classify names the outcome of an attempt that got no response, and says why without the
// URL, which may carry a credential in its query.
func classify(err error) (outcome, why string) {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, ssrf.ErrRefused):
		return OutcomeRefused, err.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return OutcomeTimeout, err.Error()
	}
	return OutcomeError, err.Error()
}
