package timer

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Kind says what work a due record carries.
type Kind string

// KindExpiry is an expiry timer that came due: the trigger, the entity and the expiry it was
// scheduled for. A change deferred until a lookup row arrives is meant to become another kind
// that carries the change record itself (its source coordinates, key, value and headers) and its
// attempt, with the same envelope; readers reject kinds they do not know rather than guess.
const KindExpiry Kind = "expiry"

// dueVersion leads every due record so that a later change of the encoding is detected.
const dueVersion = 1

// Due is one record of the timers topic: a timer that came due, for the loop to act on.
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

// Encode returns the record value of a due timer.
func (d Due) Encode() []byte {
	b, _ := json.Marshal(dueJSON{V: dueVersion, Kind: d.Kind, Tenant: d.Tenant, Trigger: d.Trigger,
		Entity: d.Entity, ExpiresAt: d.ExpiresAt.UTC(), DueAt: d.DueAt.UTC()})
	return b
}

// DecodeDue reads a record value written by Encode.
func DecodeDue(b []byte) (Due, error) {
	var j dueJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return Due{}, fmt.Errorf("due record: %w", err)
	}
	if j.V != dueVersion {
		return Due{}, fmt.Errorf("due record: unknown version %d", j.V)
	}
	d := Due{Kind: j.Kind, Tenant: j.Tenant, Trigger: j.Trigger, Entity: j.Entity,
		ExpiresAt: j.ExpiresAt.UTC(), DueAt: j.DueAt.UTC()}
	switch {
	case d.Kind != KindExpiry:
		return Due{}, fmt.Errorf("due record: unknown kind %q", d.Kind)
	case d.Tenant == "" || d.Trigger == "" || d.Entity == "" || d.ExpiresAt.IsZero() || d.DueAt.IsZero():
		return Due{}, errors.New("due record: tenant, trigger, entity, expiresAt and dueAt are required")
	}
	return d, nil
}
