package endpoint_test

import (
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/sender/endpoint"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestBreakerOpensProbesAndCloses(t *testing.T) {
	c := &clock{t: time.Unix(1767225600, 0)}
	r := endpoint.NewRegistry(endpoint.Limits{Concurrency: 4, Failures: 3, OpenFor: 30 * time.Second}, c.now)
	e := r.Get("https://hooks.example:443")
	step := func(failed bool) {
		t.Helper()
		if !e.Allow() {
			t.Fatalf("attempt refused in state %v", e.State())
		}
		e.Done(failed)
	}
	step(true)
	step(false) // a success resets the count
	step(true)
	step(true)
	if e.State() != endpoint.Closed {
		t.Fatalf("state %v after 2 consecutive failures, want closed", e.State())
	}
	step(true)
	if e.State() != endpoint.Open || e.Allow() {
		t.Fatalf("state %v after 3 consecutive failures, want open and refusing", e.State())
	}
	if r.Count(endpoint.Open) != 1 || r.Count(endpoint.Closed) != 0 {
		t.Errorf("counts: open %d closed %d", r.Count(endpoint.Open), r.Count(endpoint.Closed))
	}

	c.t = c.t.Add(30 * time.Second)
	if e.State() != endpoint.HalfOpen {
		t.Fatalf("state %v after the open period, want half-open", e.State())
	}
	if !e.Allow() || e.Allow() {
		t.Fatal("half-open must let exactly one probe through")
	}
	e.Done(true) // the probe fails: open again
	if e.State() != endpoint.Open {
		t.Fatalf("state %v after a failed probe, want open", e.State())
	}
	c.t = c.t.Add(30 * time.Second)
	if !e.Allow() {
		t.Fatal("no probe after the second open period")
	}
	e.Done(false)
	if e.State() != endpoint.Closed || !e.Allow() || !e.Allow() {
		t.Fatalf("state %v after a good probe, want closed", e.State())
	}
}

func TestConcurrencyCap(t *testing.T) {
	r := endpoint.NewRegistry(endpoint.Limits{Concurrency: 2, Failures: 1, OpenFor: time.Second}, time.Now)
	e := r.Get("http://a:80")
	running := make(chan struct{})
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if !e.Run(func() { running <- struct{}{}; <-release }, time.Minute, nil) {
				t.Error("a job under the cap did not run")
			}
		})
	}
	<-running
	<-running
	// Both workers are busy: a third job waits, and gives up when its timeout passes.
	if e.Run(func() { t.Error("a third job ran past the cap") }, 10*time.Millisecond, nil) {
		t.Error("Run reported a job over the cap as run")
	}
	stop := make(chan struct{})
	close(stop)
	if e.Run(func() { t.Error("a stopped job ran") }, time.Minute, stop) {
		t.Error("Run reported a stopped job as run")
	}
	close(release)
	wg.Wait()
	ran := false
	if !e.Run(func() { ran = true }, time.Minute, nil) || !ran {
		t.Error("a free worker did not run the job")
	}
	if e.Workers() != 2 {
		t.Errorf("%d workers, want the 2 of the cap", e.Workers())
	}
	other := r.Get("http://b:80")
	if !other.Run(func() {}, time.Minute, nil) {
		t.Error("another endpoint shares the cap")
	}
}

func TestKey(t *testing.T) {
	for raw, want := range map[string]string{
		"https://Hooks.Example/a?b=c":     "https://hooks.example:443",
		"http://hooks.example/x":          "http://hooks.example:80",
		"http://127.0.0.1:8080/p":         "http://127.0.0.1:8080",
		"https://user:pw@[::1]:8443/path": "https://[::1]:8443",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := endpoint.Key(u); got != want {
			t.Errorf("Key(%s) = %s, want %s", raw, got, want)
		}
	}
}
