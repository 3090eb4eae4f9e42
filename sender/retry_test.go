package sender_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/sender"
)

var (
	oldSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("the key being rotated out"))
	newSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("the key being rotated in, longer"))
)

// verifySignatures checks a request by the Standard Webhooks algorithm written out here
// independently: every listed secret must have made one of the v1 signatures over
// id.timestamp.body, keyed with the base64 after whsec_.
func verifySignatures(t *testing.T, r request, secrets ...string) {
	t.Helper()
	id, stamp := r.header.Get("webhook-id"), r.header.Get("webhook-timestamp")
	sigs := strings.Fields(r.header.Get("webhook-signature"))
	if len(sigs) != len(secrets) {
		t.Fatalf("%d signatures %q, want %d", len(sigs), sigs, len(secrets))
	}
	for _, secret := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil {
			t.Fatal(err)
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + stamp + "." + string(r.body)))
		want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
		if !slices.Contains(sigs, want) {
			t.Errorf("no signature %s among %q", want, sigs)
		}
	}
}

func subscribeAll(url string, secrets ...string) func(*config.Config) {
	return func(c *config.Config) {
		c.Sender.Subscriptions = []config.Subscription{{ID: "crm", URL: url, Secrets: secrets,
			Headers: []config.Header{{Name: "Authorization", Value: "Bearer crm-token"}}}}
	}
}

// A delivery that fails three times waits in each tier for exactly its delay (on the test
// clock), keeps its messageId, gets a new requestId per attempt, and is delivered on the fourth
// attempt, signed with both secrets of a rotation.
func TestFailThenSucceedFollowsTheTiers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc := newReceiver(t, func(n int, _ *http.Request, w http.ResponseWriter) {
		switch n {
		case 1:
			w.Header().Set("Retry-After", "1") // shorter than the tier: must not shorten the wait
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.WriteHeader(http.StatusInternalServerError)
		case 3:
			w.WriteHeader(http.StatusBadGateway)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	e := newEnv(t, subscribeAll(rc.URL+"/hooks", newSecret, oldSecret))
	clock := newFakeClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	ev := event(1)
	e.publish(ev)
	s, _ := e.start(ctx, sender.WithClock(clock))

	var got []request
	for attempt := 1; attempt <= 4; attempt++ {
		r := rc.next(ctx, t)
		got = append(got, r)
		if stamp := r.header.Get("webhook-timestamp"); stamp != strconv.FormatInt(clock.Now().Unix(), 10) {
			t.Errorf("attempt %d stamped %s, clock at %d", attempt, stamp, clock.Now().Unix())
		}
		if attempt == 4 {
			break
		}
		due := clock.nextTimer(ctx, t)
		if wait := due.Sub(clock.Now()); wait != e.cfg.Sender.RetryDelays[attempt-1] {
			t.Errorf("after attempt %d the retry waits %s, want %s", attempt, wait, e.cfg.Sender.RetryDelays[attempt-1])
		}
		clock.advanceTo(due)
	}

	requestIDs := map[string]bool{}
	for i, r := range got {
		if r.header.Get("webhook-id") != ev.MessageID || r.header.Get("Content-Type") != "application/json" ||
			r.header.Get("Authorization") != "Bearer crm-token" || r.path != "/hooks" {
			t.Errorf("attempt %d: headers %v path %s", i+1, r.header, r.path)
		}
		verifySignatures(t, r, newSecret, oldSecret)
		// The body is Open Loyalty's envelope exactly, with this attempt's requestId.
		requestID := jsonField(t, r.body, "requestId")
		requestIDs[requestID] = true
		want, err := e.codec.AppendJSON(nil, ev, requestID)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.body) != string(want) {
			t.Errorf("attempt %d body\n%s\nwant\n%s", i+1, r.body, want)
		}
	}
	if len(requestIDs) != 4 {
		t.Errorf("requestIds %v, want 4 different", requestIDs)
	}

	// Replaying the delivery into the first tier, as an operator replays dead letters, does not
	// send it again: it is remembered as delivered.
	tier := e.readAll(ctx, e.cfg.Topics.Retry(e.cfg.Sender.RetryDelays[0]), 1)[0]
	replay := &kgo.Record{Topic: tier.Topic, Key: tier.Key, Value: tier.Value}
	for _, h := range tier.Headers {
		if h.Key != sender.HeaderDue {
			replay.Headers = append(replay.Headers, h)
		}
	}
	if err := e.cl.ProduceSync(ctx, replay).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the replay skipped", func() bool {
		return testutilValue(s.Metrics().Skipped.WithLabelValues("already_delivered")) == 1
	})
	if n := len(rc.requests()); n != 4 {
		t.Errorf("%d requests after the replay, want 4", n)
	}
}

// A delivery that always fails goes, after the last tier, to the dead-letter topic with the
// original record and the history of every attempt.
func TestAlwaysFailingGoesToTheDeadLetterTopic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc := newReceiver(t, func(_ int, _ *http.Request, w http.ResponseWriter) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":"database down"}`))
	})
	e := newEnv(t, func(c *config.Config) {
		subscribeAll(rc.URL+"/hooks?token=q-s3cret", newSecret)(c)
		c.Sender.RetryDelays = []time.Duration{time.Second, 2 * time.Second}
	})
	clock := newFakeClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	ev := event(2)
	e.publish(ev)
	var logs lockedBuffer
	e.start(ctx, sender.WithClock(clock), sender.WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	for range 2 {
		rc.next(ctx, t)
		clock.advanceTo(clock.nextTimer(ctx, t))
	}
	rc.next(ctx, t)

	dead := e.readAll(ctx, e.cfg.Topics.Dead, 1)[0]
	if string(dead.Key) != memberID(2) || header(dead, sender.HeaderDeadReason) != sender.DeadExhausted ||
		header(dead, sender.HeaderSubscription) != "crm" || header(dead, "message-id") != ev.MessageID {
		t.Errorf("dead record key %s headers %v", dead.Key, dead.Headers)
	}
	if back, err := e.codec.AppendJSON(nil, mustDecode(t, e, dead.Value), ""); err != nil || !strings.Contains(string(back), ev.MessageID) {
		t.Errorf("the dead record's value is not the original event: %v", err)
	}
	history, err := sender.History(dead)
	if err != nil {
		t.Fatal(err)
	}
	lanes := []string{"main", "1s", "2s"}
	if len(history) != 3 {
		t.Fatalf("history %+v, want 3 attempts", history)
	}
	for i, a := range history {
		if a.Outcome != sender.OutcomeFailed || a.Status != 500 || a.Lane != lanes[i] || a.RequestID == "" ||
			a.Response != `{"error":"database down"}` {
			t.Errorf("attempt %d = %+v", i+1, a)
		}
	}
	if !history[1].At.Equal(history[0].At.Add(time.Second)) || !history[2].At.Equal(history[1].At.Add(2*time.Second)) {
		t.Errorf("attempt times %v %v %v do not follow the delays", history[0].At, history[1].At, history[2].At)
	}
	// Neither the logs nor the dead record reveal the secret, the header's value or the URL's
	// query.
	secretKey := strings.TrimPrefix(newSecret, "whsec_")
	for _, text := range []string{logs.String(), fmt.Sprint(dead.Headers)} {
		for _, leak := range []string{secretKey, "crm-token", "q-s3cret"} {
			if strings.Contains(text, leak) {
				t.Errorf("%q leaked into %s", leak, text)
			}
		}
	}
	if !strings.Contains(logs.String(), "dead-lettered") {
		t.Errorf("no log line about the dead letter:\n%s", logs.String())
	}
}
