package sender_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/sender"
)

// hosts resolves names from a table; nothing leaves the machine.
type hosts map[string]string

func (h hosts) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := h[host]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return nil, errors.New("no such host")
}

// Destinations the guard refuses are dead-lettered at once with the refusal in their history,
// and nothing connects to them; the allow-list admits the one receiver it names.
func TestSSRFRefusalsEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc := newReceiver(t, nil)
	// "Another host" on the loopback network: refused unless allowed, so it must see no
	// connection at all.
	other, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skip("no 127.0.0.2 on this machine:", err)
	}
	var accepted atomic.Int64
	go func() {
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = other.Close() })
	_, port, _ := net.SplitHostPort(other.Addr().String())

	refused := map[string]string{
		"other-host": "http://127.0.0.2:" + port + "/",
		"ipv6-loop":  "http://[::1]:" + port + "/",
		"mapped":     "http://[::ffff:127.0.0.2]:" + port + "/",
		"named":      "http://receiver.test:" + port + "/",
	}
	e := newEnv(t, func(c *config.Config) {
		c.Sender.AllowedCIDRs = []string{"127.0.0.1/32"}
		c.Sender.Subscriptions = []config.Subscription{{ID: "allowed", URL: rc.URL + "/ok"}}
		for id, url := range refused {
			c.Sender.Subscriptions = append(c.Sender.Subscriptions, config.Subscription{ID: id, URL: url})
		}
	})
	e.publish(event(3))
	e.start(ctx, sender.WithResolver(hosts{"receiver.test": "127.0.0.2"}))

	if r := rc.next(ctx, t); r.path != "/ok" {
		t.Errorf("the allowed receiver got %s", r.path)
	}
	var ids []string
	for _, d := range e.readAll(ctx, e.cfg.Topics.Dead, len(refused)) {
		id := header(d, sender.HeaderSubscription)
		ids = append(ids, id)
		h, err := sender.History(d)
		if err != nil || len(h) != 1 || h[0].Outcome != sender.OutcomeRefused || header(d, sender.HeaderDeadReason) != sender.DeadRefused {
			t.Errorf("%s: history %+v (%v), reason %s", id, h, err, header(d, sender.HeaderDeadReason))
		}
	}
	sort.Strings(ids)
	if want := []string{"ipv6-loop", "mapped", "named", "other-host"}; !equal(ids, want) {
		t.Errorf("dead-lettered %v, want %v", ids, want)
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the refused host accepted %d connections", n)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A receiver that never answers holds back no other receiver: while every request to it hangs,
// the other gets every event, with a budget of in-flight records smaller than the events.
func TestHangingEndpointDoesNotDelayAnother(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	release := make(chan struct{})
	hanging := newReceiver(t, func(_ int, r *http.Request, w http.ResponseWriter) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusOK)
	})
	healthy := newReceiver(t, nil)
	const events = 40
	e := newEnv(t, func(c *config.Config) {
		c.Sender.Subscriptions = []config.Subscription{
			{ID: "hanging", URL: hanging.URL}, {ID: "healthy", URL: healthy.URL},
		}
		c.Sender.MaxInFlight = 4
		c.Sender.EndpointConcurrency = 2
		c.Sender.QueueTimeout = 200 * time.Millisecond
	})
	for i := range events {
		e.publish(event(100 + i))
	}
	_, stop := e.start(ctx)
	seen := map[string]bool{}
	for len(seen) < events {
		seen[healthy.next(ctx, t).header.Get("webhook-id")] = true
	}
	n := len(hanging.requests())
	if n > e.cfg.Sender.EndpointConcurrency {
		t.Errorf("%d requests reached the hanging endpoint, over its cap of %d", n, e.cfg.Sender.EndpointConcurrency)
	}
	// The rest waited past sender.queueTimeout and moved on to the first retry tier.
	for _, r := range e.readAll(ctx, e.cfg.Topics.Retry(e.cfg.Sender.RetryDelays[0]), events-n) {
		h, _ := sender.History(r)
		if header(r, sender.HeaderSubscription) != "hanging" || len(h) != 1 || h[0].Outcome != sender.OutcomeDeferred {
			t.Errorf("tier record for %s with history %+v", header(r, sender.HeaderSubscription), h)
		}
	}
	close(release)
	stop()
}
