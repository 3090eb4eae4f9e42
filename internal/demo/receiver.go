package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/sender"
	"github.com/loyaltyhooks/loyaltyhooks/sender/signature"
)

// demoSecret signs the demo's own subscription to every event.
const demoSecret = "whsec_ZGVtbyBzZWNyZXQgb2YgdGhlIGxvY2FsIHJlY2VpdmVy"

// receiver is the demo's webhook endpoint on 127.0.0.1: it prints every webhook it receives
// and checks its signature. The simulated database's subscriptions point at made-up hosts;
// adopt sends them here instead, each under a path of its own, so nothing leaves the machine.
type receiver struct {
	srv *http.Server
	url string
	out io.Writer

	mu        sync.Mutex
	secrets   map[string][]string            // by path
	verifiers map[string]*signature.Verifier // by path; absent: unsigned
	received  int
	verified  int
	failed    int
}

func startReceiver(out io.Writer) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("local receiver: %w", err)
	}
	rc := &receiver{url: "http://" + ln.Addr().String(), out: out, secrets: map[string][]string{}, verifiers: map[string]*signature.Verifier{}}
	if err := rc.expect("/all", demoSecret); err != nil {
		return nil, err
	}
	rc.srv = &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = rc.srv.Serve(ln) }()
	return rc, nil
}

func (rc *receiver) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = rc.srv.Shutdown(ctx)
}

// expect adds secrets that sign the webhooks arriving at path (several subscriptions, of
// different stores, may share a URL).
func (rc *receiver) expect(path string, secrets ...string) error {
	if len(secrets) == 0 {
		return nil
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	all := append(rc.secrets[path], secrets...)
	v, err := signature.NewVerifier(all...)
	if err != nil {
		return err
	}
	rc.secrets[path], rc.verifiers[path] = all, v
	return nil
}

// adopt points a webhook_subscription change at the receiver: https://crm.example.com/hooks
// becomes <receiver>/crm.example.com/hooks, with its secret registered for that path.
func (rc *receiver) adopt(ch *cdc.Change) *cdc.Change {
	row := ch.Row()
	if ch.Table != "webhook_subscription" || row == nil {
		return ch
	}
	u, err := url.Parse(row.Get("url").Text())
	if err != nil {
		return ch
	}
	path := "/" + u.Host + u.Path
	if row.Get("hmac_enabled").Bool() {
		_ = rc.expect(path, strings.Fields(row.Get("hmac_secret").Text())...)
	}
	out := *ch
	for _, img := range []**cdc.Row{&out.Before, &out.After} {
		if *img != nil {
			r := &cdc.Row{Columns: append([]cdc.Column(nil), (*img).Columns...)}
			r.Set("url", cdc.StringValue(rc.url+path))
			*img = r
		}
	}
	return &out
}

// envelope is the part of Open Loyalty's webhook body the receiver prints.
type envelope struct {
	MessageID string `json:"messageId"`
	EventName string `json:"eventName"`
	StoreCode string `json:"storeCode"`
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	var ev envelope
	_ = json.Unmarshal(body, &ev) // printed as far as it reads
	rc.mu.Lock()
	v := rc.verifiers[r.URL.Path]
	rc.received++
	check := "unsigned"
	if v != nil {
		if err := v.Verify(r.Header, body); err != nil {
			rc.failed++
			check = "SIGNATURE " + err.Error()
		} else {
			rc.verified++
			check = "signature ok"
		}
	}
	fmt.Fprintf(rc.out, "  → %-40s store=%-8s message=%s  to %s (%s)\n", ev.EventName, ev.StoreCode, ev.MessageID, r.URL.Path, check)
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// counts returns the webhooks received, those whose signature checked, and those whose did not.
func (rc *receiver) counts() (received, verified, failed int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.received, rc.verified, rc.failed
}

// noNames is the demo sender's resolver: every receiver is an address on this machine, so no
// name is ever looked up.
type noNames struct{}

func (noNames) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return nil, errors.New("the demo resolves no names")
}

// configureSender makes the demo's sender deliver to the receiver: the receiver's address
// admitted by the SSRF guard, and one signed subscription to every event besides those of the
// simulated database.
func configureSender(cfg *config.Config, rc *receiver) {
	cfg.Sender.InstanceID = "demo"
	cfg.Sender.AllowedCIDRs = []string{"127.0.0.1/32"}
	cfg.Sender.ShutdownTimeout = 5 * time.Second
	cfg.Sender.Subscriptions = []config.Subscription{{ID: "demo-receiver", URL: rc.url + "/all", Secrets: []string{demoSecret}}}
}

// waitDelivered waits until the sender has taken up every webhook event (events() of them) and
// has no delivery in flight.
func waitDelivered(ctx context.Context, snd *sender.Sender, events func() int, budget time.Duration) error {
	deadline := time.Now().Add(budget)
	for {
		taken, inFlight := snd.Progress()
		if taken >= int64(events()) && inFlight == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("webhooks not all delivered after %v", budget)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
