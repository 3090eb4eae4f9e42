package sender

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/config"
)

// tiers are the retry delays of the configuration and the topics that hold them.
type tiers struct {
	delays []time.Duration // sender.retryDelays: the wait before retry n is delays[n-1]
	topics []time.Duration // the distinct delays, shortest first: one topic each
	jitter float64
	topic  func(time.Duration) string
}

func newTiers(c config.Config) tiers {
	return tiers{delays: c.Sender.RetryDelays, topics: c.Sender.Tiers(), jitter: c.Sender.RetryJitter, topic: c.Topics.Retry}
}

// next returns the tier a delivery that has failed n times waits in: the one of the n-th
// delay, or a longer one when the receiver's Retry-After asks for more; never a shorter one,
// and never longer than the longest tier. ok is false when no retry is left.
func (t tiers) next(n int, retryAfter time.Duration) (delay time.Duration, ok bool) {
	if n > len(t.delays) {
		return 0, false
	}
	want := max(t.delays[n-1], retryAfter)
	for _, d := range t.topics {
		if d >= want {
			return d, true
		}
	}
	return t.topics[len(t.topics)-1], true
}

// due is when a record handed to the tier of delay at now is to be attempted: the delay,
// lengthened by up to the jitter fraction so that a burst of failures does not return as one.
func (t tiers) due(now time.Time, delay time.Duration) time.Time {
	if t.jitter > 0 {
		delay += time.Duration(rand.Float64() * t.jitter * float64(delay))
	}
	return now.Add(delay)
}

// dueOf reads when a tier record is due; a record without the header is due at once.
func dueOf(r *kgo.Record) time.Time {
	ms, err := strconv.ParseInt(header(r, HeaderDue), 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// handOn builds the record that carries a delivery on to a tier or the dead-letter topic: the
// original key and value, the original headers, and the sender's own.
func handOn(orig *kgo.Record, topic, subscriptionID string, history []Attempt, extra ...kgo.RecordHeader) *kgo.Record {
	r := &kgo.Record{Topic: topic, Key: orig.Key, Value: orig.Value}
	for _, h := range orig.Headers {
		switch h.Key {
		case HeaderSubscription, HeaderAttempts, HeaderDue, HeaderDeadReason, HeaderDeadError:
		default:
			r.Headers = append(r.Headers, h)
		}
	}
	if subscriptionID != "" {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderSubscription, Value: []byte(subscriptionID)})
	}
	if len(history) > 0 {
		js, _ := json.Marshal(history) // Attempt holds nothing json cannot encode
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderAttempts, Value: js})
	}
	r.Headers = append(r.Headers, extra...)
	return r
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date relative to now.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(365*24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
