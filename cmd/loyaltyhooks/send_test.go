package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
	"github.com/loyaltyhooks/loyaltyhooks/sender/signature"
)

// TestSend drives `loyaltyhooks send` as an operator would: the brokers and Redis from the
// environment, a subscription in the config file, the topics created by --create-topics, and an
// event the processor wrote delivered to a receiver, signed.
func TestSend(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	redis := redistest.Start(t)
	const secret = "whsec_c2VuZCB0ZXN0IHNlY3JldCBvZiBzb21lIGxlbmd0aA=="
	got := make(chan *http.Request, 1)
	bodies := make(chan []byte, 1)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusNoContent)
		got <- r
		bodies <- body
	}))
	t.Cleanup(rc.Close)

	file := filepath.Join(t.TempDir(), "loyaltyhooks.yaml")
	yaml := `sender:
  allowedCIDRs: [127.0.0.1/32]
  subscriptions:
    - id: crm
      url: ` + rc.URL + `/hooks
      eventNames: [CustomerDeactivated]
      secrets: [` + secret + `]
`
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LOYALTYHOOKS_KAFKA_BROKERS", strings.Join(cluster.ListenAddrs(), ","))
	t.Setenv("LOYALTYHOOKS_KAFKA_SESSIONTIMEOUT", "6s")
	t.Setenv("LOYALTYHOOKS_KAFKA_REBALANCETIMEOUT", "3s")
	t.Setenv("LOYALTYHOOKS_REDIS_URL", redis.URL())
	t.Setenv("LOYALTYHOOKS_PROCESSOR_INSTANCEID", "send-test")
	t.Setenv("LOYALTYHOOKS_SENDER_INSTANCEID", "send-test")
	t.Setenv("LOYALTYHOOKS_METRICS_ADDR", "127.0.0.1:0")
	t.Setenv("LOYALTYHOOKS_LOG_LEVEL", "warn")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() { runErr = runCLI(runCtx, nil, "--config", file, "send", "--create-topics") })
	t.Cleanup(func() { stop(); wg.Wait() })

	codec, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	w, err := schemas.NewWriter(ctx, codec, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	ev := &schemas.Event{
		MessageID: "8d4e7a1c-3b2f-4f6a-9c1d-2e5b7a8c9d0e", EventName: "CustomerDeactivated", StoreCode: "DEFAULT",
		CreatedAt: time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC),
		Data:      map[string]any{"customer": map[string]any{"customerId": "5d2c3a10-7b8e-4f5a-9c1d-000000000001"}},
		Source:    schemas.Source{Topic: "loyalty.public.member", Table: "member", Op: "u"},
	}
	value, err := w.Encode(nil, ev)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// The webhook topic may not exist until send has created it; producing waits for it.
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "loyalty.webhooks", Key: []byte("5d2c3a10-7b8e-4f5a-9c1d-000000000001"), Value: value}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	var r *http.Request
	select {
	case r = <-got:
	case <-ctx.Done():
		t.Fatalf("no webhook arrived (send: %v)", runErr)
	}
	body := <-bodies
	v, err := signature.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(r.Header, body); err != nil {
		t.Errorf("signature: %v", err)
	}
	if !strings.Contains(string(body), `"eventName":"CustomerDeactivated"`) || r.URL.Path != "/hooks" {
		t.Errorf("webhook %s %s", r.URL.Path, body)
	}
	stop()
	wg.Wait()
	if runErr != nil {
		t.Errorf("send: %v", runErr)
	}
}
