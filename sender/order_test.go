package sender_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/sender"
)

// Within one partition, deliveries to different members run at the same time while those to
// the same member keep their order: while member X's first event is held, member Y's arrive,
// and X's second waits for X's first.
func TestOrderPerMemberConcurrencyAcross(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	x, y := memberID(1), memberID(2)
	yArrived := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	order := map[string][]string{}
	xFirstDone := false
	rc := newReceiver(t, func(_ int, r *http.Request, w http.ResponseWriter) {
		id := r.Header.Get("webhook-id")
		member := memberOf(id)
		mu.Lock()
		order[member] = append(order[member], id)
		n := len(order[member])
		if member == x && n == 2 && !xFirstDone {
			t.Errorf("member X's second event arrived before its first was answered")
		}
		mu.Unlock()
		switch {
		case member == y:
			once.Do(func() { close(yArrived) })
		case member == x && n == 1:
			<-yArrived
			mu.Lock()
			xFirstDone = true
			mu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	})
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(c *config.Config) {
		subscribeAll(rc.URL)(c)
		c.Topology.WebhookPartitions = 1
	})
	var want = map[string][]string{}
	for i := range 5 {
		for _, m := range []string{x, y} {
			ev := event(10*i + map[string]int{x: 1, y: 2}[m])
			ev.Data = map[string]any{"customer": map[string]any{"customerId": m}}
			e.publish(ev)
			want[m] = append(want[m], ev.MessageID)
		}
	}
	s, stop := e.start(ctx, sender.WithRegisterer(reg))
	for range 10 {
		rc.next(ctx, t)
	}
	stop()
	for _, m := range []string{x, y} {
		if got := order[m]; strings.Join(got, ",") != strings.Join(want[m], ",") {
			t.Errorf("member %s received %v, want %v", m, got, want[m])
		}
	}
	if n := testutil.ToFloat64(s.Metrics().Attempts.WithLabelValues(sender.OutcomeDelivered, "2xx")); n != 10 {
		t.Errorf("delivered attempts counted %v, want 10", n)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
}

// memberOf maps the message ids of order_test's events to their members by the event number's
// last digit.
func memberOf(messageID string) string {
	if strings.HasSuffix(messageID, "1") {
		return memberID(1)
	}
	return memberID(2)
}

// Per endpoint: redirects are not followed, a slow answer times out, and consecutive failures
// open the circuit so that later deliveries skip the endpoint.
func TestEndpointProtections(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	redirected := newReceiver(t, nil)
	redirecting := newReceiver(t, func(_ int, r *http.Request, w http.ResponseWriter) {
		http.Redirect(w, r, redirected.URL+"/elsewhere", http.StatusFound)
	})
	slow := newReceiver(t, func(_ int, r *http.Request, w http.ResponseWriter) {
		<-r.Context().Done() // answers only when the sender gives up
	})
	failing := newReceiver(t, func(_ int, _ *http.Request, w http.ResponseWriter) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(strings.Repeat("x", 1<<20)))
	})
	e := newEnv(t, func(c *config.Config) {
		c.Sender.Subscriptions = []config.Subscription{
			{ID: "redirecting", URL: redirecting.URL, EventNames: []string{"CustomerDeactivated"}, StoreCode: "R"},
			{ID: "slow", URL: slow.URL, StoreCode: "S"},
			{ID: "failing", URL: failing.URL, StoreCode: "F"},
		}
		c.Sender.RequestTimeout = 300 * time.Millisecond
		c.Sender.ConnectTimeout = 300 * time.Millisecond
		c.Sender.EndpointConcurrency = 1
		c.Sender.Breaker = config.Breaker{Failures: 2, OpenFor: time.Hour}
		c.Sender.QueueTimeout = time.Minute
	})
	storeEvent := func(i int, store string) {
		ev := event(i)
		ev.StoreCode = store
		e.publish(ev)
	}
	storeEvent(1, "R")
	storeEvent(2, "S")
	for i := range 5 {
		storeEvent(10+i, "F")
	}
	e.start(ctx)

	byID := map[string][]sender.Attempt{}
	for _, r := range e.readAll(ctx, e.cfg.Topics.Retry(e.cfg.Sender.RetryDelays[0]), 7) {
		h, err := sender.History(r)
		if err != nil || len(h) != 1 {
			t.Fatalf("history %v %v", h, err)
		}
		byID[header(r, sender.HeaderSubscription)] = append(byID[header(r, sender.HeaderSubscription)], h[0])
	}
	if a := byID["redirecting"]; len(a) != 1 || a[0].Outcome != sender.OutcomeFailed || a[0].Status != http.StatusFound {
		t.Errorf("redirecting: %+v", a)
	}
	if n := len(redirected.requests()); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
	if a := byID["slow"]; len(a) != 1 || a[0].Outcome != sender.OutcomeTimeout {
		t.Errorf("slow: %+v", a)
	}
	outcomes := map[string]int{}
	for _, a := range byID["failing"] {
		outcomes[a.Outcome]++
		if len(a.Response) > 256 {
			t.Errorf("kept %d bytes of the response", len(a.Response))
		}
	}
	if outcomes[sender.OutcomeFailed] != 2 || outcomes[sender.OutcomeBreakerOpen] != 3 {
		t.Errorf("failing endpoint outcomes %v, want 2 failed then 3 breaker_open", outcomes)
	}
	if n := len(failing.requests()); n != 2 {
		t.Errorf("the failing endpoint got %d requests, want 2 before its circuit opened", n)
	}
}
