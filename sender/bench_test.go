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
	"syscall"
	"testing"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
	"github.com/loyaltyhooks/loyaltyhooks/sender/signature"
)

// benchRounds alternates the two measurements, so that a shared machine's load, which changes
// from second to second, weighs on both alike; the medians are reported.
const benchRounds = 9

// BenchmarkDelivery measures the sender end to end — events written to the webhook topic,
// consumed, rendered, signed, POSTed to a local receiver, remembered in Redis and committed —
// against bare net/http POST loops that send the same requests (body and headers) to the same
// receiver: one goroutine posting one request after another ("loop", the target's baseline:
// ratio-to-loop ≥ 0.7), and as many goroutines as the sender's per-endpoint cap ("parallel", a
// stricter measure of the sender's own cost). Each round runs b.N of each, in turn, so that a
// shared machine's changing load weighs on all alike; medians of the rounds are reported.
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
	// The bare loop sends what the sender sends: the same body and the headers of a signed
	// webhook, made once, so the receiver's work is the same in both.
	secret, err := signature.ParseSecret(newSecret)
	if err != nil {
		b.Fatal(err)
	}
	header := http.Header{"Content-Type": {"application/json"}, "User-Agent": {"loyaltyhooks-sender"}}
	signature.Set(header, []signature.Secret{secret}, messageID(0), time.Now(), body)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	post := func() bool {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/hooks", bytes.NewReader(body))
		if err != nil {
			b.Error(err)
			return false
		}
		req.Header = header.Clone()
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return true
	}
	// bareLoop posts b.N times from n goroutines and returns the time it took.
	bareLoop := func(n int) time.Duration {
		count.Store(0)
		target.Store(int64(b.N))
		start := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) && post() {
				}
			})
		}
		wg.Wait()
		<-done
		return time.Since(start)
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
	var loopRates, bareRates, senderRates, loopRatios, ratios, bareCPU, senderCPU []float64
	for round := range benchRounds {
		evs := make([]*schemas.Event, b.N)
		for i := range evs {
			evs[i] = event(round*b.N + i)
		}
		loop := bareLoop(1)
		cpu := cpuTime()
		bare := bareLoop(workers)
		bareCPU = append(bareCPU, float64((cpuTime()-cpu).Microseconds())/float64(b.N))

		count.Store(0)
		b.StartTimer()
		cpu = cpuTime()
		start := time.Now()
		e.publish(evs...)
		<-done
		sent := time.Since(start)
		b.StopTimer()
		senderCPU = append(senderCPU, float64((cpuTime()-cpu).Microseconds())/float64(b.N))

		loopRates = append(loopRates, float64(b.N)/loop.Seconds())
		bareRates = append(bareRates, float64(b.N)/bare.Seconds())
		senderRates = append(senderRates, float64(b.N)/sent.Seconds())
		loopRatios = append(loopRatios, loop.Seconds()/sent.Seconds())
		ratios = append(ratios, bare.Seconds()/sent.Seconds())
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(1e9/median(senderRates), "ns/delivery")
	b.ReportMetric(median(senderRates), "deliveries/s")
	b.ReportMetric(median(loopRates), "loop-posts/s")
	b.ReportMetric(median(loopRatios), "ratio-to-loop")
	b.ReportMetric(median(bareRates), "parallel-posts/s")
	b.ReportMetric(median(ratios), "ratio-to-parallel")
	b.ReportMetric(median(senderCPU), "cpu-µs/delivery")
	b.ReportMetric(median(bareCPU), "cpu-µs/parallel-post")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// cpuTime is the CPU time the process has used, in and out of the kernel.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
