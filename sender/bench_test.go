package sender_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
)

// benchRounds alternates the two measurements, so that a shared machine's load, which changes
// from second to second, weighs on both alike; the medians are reported.
const benchRounds = 5

// BenchmarkDelivery measures the sender end to end — events written to the webhook topic,
// consumed, checked against Redis, rendered, signed, POSTed to a local receiver, remembered and
// committed — against a bare net/http POST loop that sends the same body to the same receiver
// with as many workers as the sender's per-endpoint cap. Each round runs b.N of each, in turn.
// ns/op is the sender's time per delivery; "ratio" is the median of the rounds' sender rate over
// bare rate (the target is ≥ 0.7).
func BenchmarkDelivery(b *testing.B) {
	var count, target atomic.Int64
	done := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
		if count.Add(1) == target.Load() {
			done <- struct{}{}
		}
	}))
	defer srv.Close()
	e := newEnv(b, func(c *config.Config) {
		c.Sender.Subscriptions = []config.Subscription{{ID: "bench", URL: srv.URL + "/hooks", Secrets: []string{newSecret}}}
		c.Sender.CommitInterval = time.Second
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	workers := e.cfg.Sender.EndpointConcurrency
	body, err := e.codec.AppendJSON(nil, event(0), "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d")
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	bareLoop := func() {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					resp, err := client.Post(srv.URL+"/hooks", "application/json", bytes.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		}
		wg.Wait()
	}

	s, stop := e.start(ctx)
	defer stop()
	for !s.Ready() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	b.StopTimer()
	b.ResetTimer()
	var bareRates, senderRates, ratios []float64
	for round := range benchRounds {
		evs := make([]*schemas.Event, b.N)
		for i := range evs {
			evs[i] = event(round*b.N + i)
		}
		count.Store(0)
		target.Store(int64(b.N))
		start := time.Now()
		bareLoop()
		<-done
		bare := time.Since(start)

		count.Store(0)
		b.StartTimer()
		start = time.Now()
		e.publish(evs...)
		<-done
		sent := time.Since(start)
		b.StopTimer()

		bareRates = append(bareRates, float64(b.N)/bare.Seconds())
		senderRates = append(senderRates, float64(b.N)/sent.Seconds())
		ratios = append(ratios, bare.Seconds()/sent.Seconds())
	}
	b.ReportMetric(median(senderRates), "deliveries/s")
	b.ReportMetric(median(bareRates), "bare-posts/s")
	b.ReportMetric(median(ratios), "ratio")
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(1e9/median(senderRates), "ns/delivery")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
