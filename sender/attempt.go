package sender

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Headers the sender adds to records of the retry tiers and of the dead-letter topic; the
// original record's headers (event-name, message-id, store-code) are kept.
const (
	HeaderSubscription = "subscription-id" // the subscription the delivery is for
	HeaderAttempts     = "attempts"        // the attempt history, a JSON array of Attempt
	HeaderDue          = "retry-due"       // when a tier record is due, Unix milliseconds
	HeaderDeadReason   = "dead-reason"     // why a record is in the dead-letter topic
	HeaderDeadError    = "dead-error"      // for an unreadable record: what was wrong with it
)

// Outcomes of an attempt, the outcome label of loyaltyhooks_sender_attempts_total.
const (
	OutcomeDelivered   = "delivered"    // a 2xx response
	OutcomeFailed      = "failed"       // another response
	OutcomeError       = "error"        // no response: connection refused or reset, TLS failure
	OutcomeTimeout     = "timeout"      // no response within sender.requestTimeout
	OutcomeRefused     = "refused"      // the SSRF guard refused the destination; not retried
	OutcomeInvalid     = "invalid"      // no request could be made of the event; not retried
	OutcomeBreakerOpen = "breaker_open" // not attempted: the endpoint's circuit is open
	OutcomeDeferred    = "deferred"     // not attempted: waited past sender.queueTimeout for its turn
)

// Reasons a record is in the dead-letter topic.
const (
	DeadExhausted   = "exhausted"   // every retry tier failed
	DeadRefused     = "refused"     // the SSRF guard refused the destination
	DeadInvalid     = "invalid"     // no request could be made of the event
	DeadUndecodable = "undecodable" // the webhook record could not be read
)

// Attempt is one try of a delivery, as the attempt history records it.
type Attempt struct {
	At        time.Time `json:"at"`                  // when it started, on the sender's clock
	Lane      string    `json:"lane"`                // "main" or the retry tier (5m) it was made from
	Outcome   string    `json:"outcome"`             // one of the Outcome constants
	RequestID string    `json:"requestId,omitempty"` // the body's requestId; empty when not attempted
	Status    int       `json:"status,omitempty"`    // the HTTP status, 0 without a response
	Error     string    `json:"error,omitempty"`     // what went wrong, without the URL
	Millis    int64     `json:"ms"`                  // how long it took
	Response  string    `json:"response,omitempty"`  // the start of the response body

	retryAfter time.Duration // the response's Retry-After, lengthening the next wait
}

// permanent reports whether retrying cannot help.
func (a Attempt) permanent() bool { return a.Outcome == OutcomeRefused || a.Outcome == OutcomeInvalid }

// endpointFailed reports whether the attempt counts against the endpoint's breaker: it did
// not cope, as opposed to refusing the content with a 4xx.
func (a Attempt) endpointFailed() bool {
	switch a.Outcome {
	case OutcomeError, OutcomeTimeout:
		return true
	case OutcomeFailed:
		return a.Status >= 500 || a.Status == 429
	}
	return false
}

// statusClass is the status_class label: 2xx, 3xx, 4xx, 5xx or none.
func (a Attempt) statusClass() string {
	if a.Status < 100 || a.Status > 599 {
		return "none"
	}
	return strconv.Itoa(a.Status/100) + "xx"
}

// History returns the attempt history of a record of a retry tier or of the dead-letter
// topic; none for a record of the webhook topic.
func History(r *kgo.Record) ([]Attempt, error) {
	raw := header(r, HeaderAttempts)
	if raw == "" {
		return nil, nil
	}
	var h []Attempt
	if err := json.Unmarshal([]byte(raw), &h); err != nil {
		return nil, fmt.Errorf("%s header of %s/%d@%d: %w", HeaderAttempts, r.Topic, r.Partition, r.Offset, err)
	}
	return h, nil
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
