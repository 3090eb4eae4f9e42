package endpoint_test

import (
	"net/url"
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

// job records what happened to it.
type job struct {
	deadline time.Time
	run      func()
	ran      chan string // "run" or "expired"
}

func (j *job) Deadline() time.Time { return j.deadline }
func (j *job) Run(*endpoint.Endpoint) {
	if j.run != nil {
		j.run()
	}
	j.ran <- "run"
}
func (j *job) Expire() { j.ran <- "expired" }

func newJob(wait time.Duration, run func()) *job {
	return &job{deadline: time.Now().Add(wait), run: run, ran: make(chan string, 1)}
}

func TestConcurrencyCapAndExpiry(t *testing.T) {
	r := endpoint.NewRegistry(endpoint.Limits{Concurrency: 2, Failures: 1, OpenFor: time.Second}, time.Now)
	e := r.Get("http://a:80")
	running := make(chan struct{}, 2)
	release := make(chan struct{})
	hold := func() { running <- struct{}{}; <-release }
	first, second := newJob(time.Minute, hold), newJob(time.Minute, hold)
	e.Submit(first)
	e.Submit(second)
	<-running
	<-running
	// Both workers are busy: a third job waits in the queue and expires at its deadline.
	third := newJob(20*time.Millisecond, func() { t.Error("a third job ran past the cap") })
	e.Submit(third)
	if got := <-third.ran; got != "expired" {
		t.Errorf("third job %s, want expired", got)
	}
	// A fourth waits until a worker is free, and runs.
	fourth := newJob(time.Minute, nil)
	e.Submit(fourth)
	close(release)
	for _, j := range []*job{first, second, fourth} {
		if got := <-j.ran; got != "run" {
			t.Errorf("job %s, want run", got)
		}
	}
	if e.Workers() != 2 {
		t.Errorf("%d workers, want the 2 of the cap", e.Workers())
	}
	other := newJob(time.Minute, nil)
	r.Get("http://b:80").Submit(other)
	if got := <-other.ran; got != "run" {
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
