package timer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Kind says what work a due record carries.
type Kind string

// The kinds of due records. Readers reject kinds they do not know rather than guess.
const (
	// KindExpiry is an expiry timer that came due: the trigger, the entity and the expiry it
	// was scheduled for.
	KindExpiry Kind = "expiry"
	// KindDeferred is a change deferred until the lookup rows its events need arrive, come due
	// for its next attempt: the change record itself and where its wait stands.
	KindDeferred Kind = "deferred"
)

// dueVersion leads every due record so that a later change of the encoding is detected.
const dueVersion = 1

// Due is one record of the timers topic: a timer that came due, for the loop to act on. An
// expiry fills Tenant to DueAt; a deferred change fills Deferred alone.
type Due struct {
	Kind    Kind
	Tenant  string
	Trigger string
	Entity  string
	// ExpiresAt is the expiry the timer was scheduled for; the loop fires only if the entity
	// still expires then.
	ExpiresAt time.Time
	// DueAt is when the scan found the timer due: the event's createdAt, the same on every
	// replay of the record.
	DueAt time.Time
	// Deferred is the deferred change of a KindDeferred record.
	Deferred *Deferred
}

// Deferred is a change whose events wait for lookup rows that had not arrived: the change record
// as it was read from its topic, the triggers whose events are still owed, and where the wait
// stands. Its events are built from this record when it comes due, with the lookups as they are
// then, and keep the message ids they would have had at once.
type Deferred struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
	Key       []byte
	Value     []byte
	Headers   []Header
	// Row is the changed row, <logical table>/<primary key>: the shard the change waits in,
	// and the row whose later changes wait behind it.
	Row string
	// Triggers names the triggers whose events are still owed.
	Triggers []string
	// Waiting names what the change waited for when first deferred: lookup tables, or "order"
	// for an earlier change of its row that was waiting.
	Waiting []string
	// Since is when the change was first deferred; its grace counts from then.
	Since time.Time
	// Attempt counts the deferrals so far: 1 after the first.
	Attempt int
}

// Header is a record header of a deferred change.
type Header struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

// ID names a deferred change by the coordinates of its change record: the same on every replay
// of the batch that deferred it, so a replay does not defer it twice.
func (d *Deferred) ID() string { return DeferralID(d.Topic, d.Partition, d.Offset) }

// DeferralID is the ID of the deferred change of the record at topic/partition/offset.
func DeferralID(topic string, partition int32, offset int64) string {
	return topic + "/" + strconv.Itoa(int(partition)) + "/" + strconv.FormatInt(offset, 10)
}

// dueJSON is the wire form: JSON, so that an operator reading the topic sees what is due.
type dueJSON struct {
	V         int       `json:"v"`
	Kind      Kind      `json:"kind"`
	Tenant    string    `json:"tenant"`
	Trigger   string    `json:"trigger"`
	Entity    string    `json:"entity"`
	ExpiresAt time.Time `json:"expiresAt"`
	DueAt     time.Time `json:"dueAt"`
}

// deferredJSON is the wire form of a deferred change; key, value and header values are base64.
type deferredJSON struct {
	V         int       `json:"v"`
	Kind      Kind      `json:"kind"`
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Timestamp time.Time `json:"timestamp"`
	Key       []byte    `json:"key"`
	Value     []byte    `json:"value"`
	Headers   []Header  `json:"headers,omitempty"`
	Row       string    `json:"row"`
	Triggers  []string  `json:"triggers"`
	Waiting   []string  `json:"waiting"`
	Since     time.Time `json:"since"`
	Attempt   int       `json:"attempt"`
}

// Encode returns the record value of a due timer.
func (d Due) Encode() []byte {
	if d.Kind == KindDeferred && d.Deferred != nil {
		c := d.Deferred
		b, _ := json.Marshal(deferredJSON{V: dueVersion, Kind: d.Kind, Topic: c.Topic, Partition: c.Partition,
			Offset: c.Offset, Timestamp: c.Timestamp.UTC(), Key: c.Key, Value: c.Value, Headers: c.Headers,
			Row: c.Row, Triggers: c.Triggers, Waiting: c.Waiting, Since: c.Since.UTC(), Attempt: c.Attempt})
		return b
	}
	b, _ := json.Marshal(dueJSON{V: dueVersion, Kind: d.Kind, Tenant: d.Tenant, Trigger: d.Trigger,
		Entity: d.Entity, ExpiresAt: d.ExpiresAt.UTC(), DueAt: d.DueAt.UTC()})
	return b
}

// DecodeDue reads a record value written by Encode.
func DecodeDue(b []byte) (Due, error) {
	var head struct {
		V    int  `json:"v"`
		Kind Kind `json:"kind"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return Due{}, fmt.Errorf("due record: %w", err)
	}
	if head.V != dueVersion {
		return Due{}, fmt.Errorf("due record: unknown version %d", head.V)
	}
	switch head.Kind {
	case KindExpiry:
		return decodeExpiry(b)
	case KindDeferred:
		return decodeDeferred(b)
	}
	return Due{}, fmt.Errorf("due record: unknown kind %q", head.Kind)
}

func decodeExpiry(b []byte) (Due, error) {
	var j dueJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return Due{}, fmt.Errorf("due record: %w", err)
	}
	d := Due{Kind: j.Kind, Tenant: j.Tenant, Trigger: j.Trigger, Entity: j.Entity,
		ExpiresAt: j.ExpiresAt.UTC(), DueAt: j.DueAt.UTC()}
	if d.Tenant == "" || d.Trigger == "" || d.Entity == "" || d.ExpiresAt.IsZero() || d.DueAt.IsZero() {
		return Due{}, errors.New("due record: tenant, trigger, entity, expiresAt and dueAt are required")
	}
	return d, nil
}

func decodeDeferred(b []byte) (Due, error) {
	var j deferredJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return Due{}, fmt.Errorf("due record: %w", err)
	}
	if j.Topic == "" || j.Row == "" || len(j.Triggers) == 0 || j.Since.IsZero() || j.Attempt < 1 {
		return Due{}, errors.New("due record: a deferred change needs topic, row, triggers, since and attempt")
	}
	return Due{Kind: KindDeferred, Deferred: &Deferred{Topic: j.Topic, Partition: j.Partition, Offset: j.Offset,
		Timestamp: j.Timestamp.UTC(), Key: j.Key, Value: j.Value, Headers: j.Headers, Row: j.Row,
		Triggers: j.Triggers, Waiting: j.Waiting, Since: j.Since.UTC(), Attempt: j.Attempt}}, nil
}
