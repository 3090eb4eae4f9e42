package endpoint

import (
	"net"
	"net/url"
	"strings"
	"sync"
	"time"
)

// State is a circuit breaker's state.
type State int

// The breaker states.
const (
	Closed   State = iota // attempts go ahead
	Open                  // attempts are refused until the open period ends
	HalfOpen              // one probe attempt is let through; its result closes or reopens
)

// States lists every state, for metrics.
var States = []State{Closed, Open, HalfOpen}

func (s State) String() string {
	switch s {
	case Open:
		return "open"
	case HalfOpen:
		return "half_open"
	}
	return "closed"
}

// Limits are the same for every endpoint.
type Limits struct {
	Concurrency int           // attempts in flight at most
	Failures    int           // consecutive failures that open the circuit
	OpenFor     time.Duration // how long it stays open before a probe
}

// Registry holds the endpoints met so far. It is safe for concurrent use.
type Registry struct {
	limits Limits
	now    func() time.Time

	mu sync.Mutex
	m  map[string]*Endpoint
}

// NewRegistry returns an empty registry; now is the clock of the open periods.
func NewRegistry(l Limits, now func() time.Time) *Registry {
	return &Registry{limits: l, now: now, m: map[string]*Endpoint{}}
}

// Key is the endpoint a URL belongs to: scheme://host:port, lower case, the port explicit.
func Key(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return strings.ToLower(u.Scheme + "://" + net.JoinHostPort(u.Hostname(), port))
}

// Get returns the endpoint of key, creating it closed.
func (r *Registry) Get(key string) *Endpoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.m[key]
	if !ok {
		e = &Endpoint{limits: r.limits, now: r.now, work: make(chan task)}
		r.m[key] = e
	}
	return e
}

// Count returns how many endpoints are in state s now.
func (r *Registry) Count(s State) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.m {
		if e.State() == s {
			n++
		}
	}
	return n
}

// Endpoint is one destination's slots and breaker.
type Endpoint struct {
	limits Limits
	now    func() time.Time
	work   chan task

	mu        sync.Mutex
	workers   int
	failures  int
	openUntil time.Time // zero while closed
	probing   bool
}

// Run runs job on one of the endpoint's workers, of which at most Limits.Concurrency exist,
// waiting for a free one up to timeout or until stop closes, and returns once job has run. It
// reports false, not having run job, when no worker came free in time. Workers are long-lived
// goroutines, so a job's deep stack (an HTTP exchange) is grown once per worker, not per job;
// a worker idle for a while ends.
func (e *Endpoint) Run(job func(), timeout time.Duration, stop <-chan struct{}) bool {
	done := donePool.Get().(chan struct{})
	defer donePool.Put(done)
	t := task{job: job, done: done}
	select {
	case e.work <- t:
		<-done
		return true
	default:
	}
	e.mu.Lock()
	if e.workers < e.limits.Concurrency {
		e.workers++
		e.mu.Unlock()
		go e.worker(t)
		<-done
		return true
	}
	e.mu.Unlock()
	wait := time.NewTimer(timeout)
	defer wait.Stop()
	select {
	case e.work <- t:
		<-done
		return true
	case <-wait.C:
	case <-stop:
	}
	return false
}

// task is a job and where to say it has run.
type task struct {
	job  func()
	done chan struct{}
}

var donePool = sync.Pool{New: func() any { return make(chan struct{}, 1) }}

// workerIdle is how long a worker waits for a job before it ends.
const workerIdle = time.Minute

func (e *Endpoint) worker(t task) {
	t.job()
	t.done <- struct{}{}
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		select {
		case t = <-e.work:
		case <-idle.C:
			e.mu.Lock()
			select {
			case t = <-e.work: // a caller was waiting after all
				e.mu.Unlock()
			default:
				e.workers--
				e.mu.Unlock()
				return
			}
		}
		t.job()
		t.done <- struct{}{}
		idle.Reset(workerIdle)
	}
}

// Workers is how many workers the endpoint has now.
func (e *Endpoint) Workers() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.workers
}

// State returns the breaker's state now.
func (e *Endpoint) State() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stateLocked(e.now())
}

func (e *Endpoint) stateLocked(now time.Time) State {
	switch {
	case e.openUntil.IsZero():
		return Closed
	case now.Before(e.openUntil):
		return Open
	}
	return HalfOpen
}

// Allow reports whether an attempt may go ahead: always while closed, never while open, and
// for one probe at a time once the open period has passed. Every true must be followed by
// Done.
func (e *Endpoint) Allow() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch e.stateLocked(e.now()) {
	case Closed:
		return true
	case HalfOpen:
		if !e.probing {
			e.probing = true
			return true
		}
	}
	return false
}

// Done records the result of an attempt Allow let through. failed means the endpoint did not
// cope (no connection, a timeout, 5xx, 429), not that the receiver refused the content.
func (e *Endpoint) Done(failed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	state := e.stateLocked(now)
	if state == HalfOpen && e.probing {
		e.probing = false
	}
	if !failed {
		e.failures, e.openUntil = 0, time.Time{}
		return
	}
	e.failures++
	switch {
	case state == HalfOpen, state == Closed && e.failures >= e.limits.Failures:
		e.openUntil = now.Add(e.limits.OpenFor)
	}
}
