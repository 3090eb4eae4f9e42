package demo_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/demo"
	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
	"github.com/loyaltyhooks/loyaltyhooks/processor/rules"
)

// TestDemoShowsEveryTrigger runs the demo against a real redis-server and checks that the
// simulated database makes the processor emit every trigger, the expiry timers' included, and
// nothing unreadable.
func TestDemoShowsEveryTrigger(t *testing.T) {
	redis := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	sum, err := demo.Run(ctx, demo.Options{Steps: 400, Seed: 1, Redis: config.Redis{URL: redis.URL()}, Drain: time.Minute, Out: &out})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, trigger := range rules.RowTriggers() {
		if sum.Events[trigger] == 0 {
			t.Errorf("no %s event in the demo", trigger)
		}
	}
	for _, e := range rules.ExpiryTriggers() {
		if sum.Events[e.Trigger] == 0 {
			t.Errorf("no %s event in the demo", e.Trigger)
		}
	}
	if sum.DeadLetter != 0 {
		t.Errorf("%d records dead-lettered", sum.DeadLetter)
	}
	if t.Failed() {
		t.Logf("demo output:\n%s", out.String())
	}
}

// TestDemoEmbedded runs the demo exactly as `make demo` does, on the embedded Redis.
func TestDemoEmbedded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	sum, err := demo.Run(ctx, demo.Options{Steps: 50, Seed: 1, Drain: time.Minute, Out: &out})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	if sum.Changes == 0 || len(sum.Events) == 0 {
		t.Fatalf("demo produced %d changes and events %v\n%s", sum.Changes, sum.Events, out.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("webhook events out")) {
		t.Errorf("no summary printed:\n%s", out.String())
	}
	events := 0
	for _, n := range sum.Events {
		events += n
	}
	// The demo's own subscription takes every event; the simulated database's take some more.
	if sum.Delivered < events || sum.BadSigned != 0 {
		t.Errorf("the local receiver got %d webhooks, %d badly signed, for %d events\n%s", sum.Delivered, sum.BadSigned, events, out.String())
	}
}
