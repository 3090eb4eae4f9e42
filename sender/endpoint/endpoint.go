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
		e = &Endpoint{limits: r.limits, now: r.now, wake: make(chan struct{}, r.limits.Concurrency)}
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
	wake   chan struct{}

	mu        sync.Mutex
	queue     []Job
	expiry    *time.Timer
	workers   int
	idle      int
	failures  int
	openUntil time.Time // zero while closed
	probing   bool
}

// Job is one attempt waiting for a worker of its endpoint.
type Job interface {
	// Deadline is when the job stops waiting for a worker.
	Deadline() time.Time
	// Run makes the attempt, on a worker.
	Run(e *Endpoint)
	// Expire is called, in a goroutine of its own, instead of Run when no worker came free
	// before the deadline.
	Expire()
}

// Submit queues job for the endpoint's workers, of which at most Limits.Concurrency exist; it
// never blocks. Workers are long-lived goroutines, so a job's deep stack (an HTTP exchange) is
// grown once per worker, not per job; a worker idle for a while ends. Jobs run in the order
// they are submitted.
func (e *Endpoint) Submit(job Job) {
	e.mu.Lock()
	e.queue = append(e.queue, job)
	if len(e.queue) == 1 {
		e.armLocked(job.Deadline())
	}
	start := e.idle == 0 && e.workers < e.limits.Concurrency
	if start {
		e.workers++
	}
	e.mu.Unlock()
	if start {
		go e.worker()
		return
	}
	select {
	case e.wake <- struct{}{}:
	default: // every worker has a wake-up pending already
	}
}

// workerIdle is how long a worker waits for a job before it ends.
const workerIdle = time.Minute

// next takes the first job that has not expired; expired ones are handed to expire.
func (e *Endpoint) next() Job {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	for len(e.queue) > 0 {
		job := e.queue[0]
		e.queue[0] = nil
		e.queue = e.queue[1:]
		if len(e.queue) > 0 {
			e.armLocked(e.queue[0].Deadline())
		}
		if now.Before(job.Deadline()) {
			return job
		}
		go job.Expire()
	}
	return nil
}

func (e *Endpoint) worker() {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		if job := e.next(); job != nil {
			job.Run(e)
			continue
		}
		e.mu.Lock()
		if len(e.queue) > 0 { // submitted between next and here
			e.mu.Unlock()
			continue
		}
		e.idle++
		e.mu.Unlock()
		idle.Reset(workerIdle)
		select {
		case <-e.wake:
			e.mu.Lock()
			e.idle--
			e.mu.Unlock()
		case <-idle.C:
			e.mu.Lock()
			e.idle--
			if len(e.queue) == 0 {
				e.workers--
				e.mu.Unlock()
				return
			}
			e.mu.Unlock()
		}
	}
}

// armLocked sets the expiry timer for the head of the queue; e.mu is held.
func (e *Endpoint) armLocked(deadline time.Time) {
	if e.expiry == nil {
		e.expiry = time.AfterFunc(time.Until(deadline), e.expire)
		return
	}
	e.expiry.Reset(time.Until(deadline))
}

// expire hands the jobs at the head of the queue whose deadline has passed to their Expire.
func (e *Endpoint) expire() {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	for len(e.queue) > 0 && !now.Before(e.queue[0].Deadline()) {
		go e.queue[0].Expire()
		e.queue[0] = nil
		e.queue = e.queue[1:]
	}
	if len(e.queue) > 0 {
		e.armLocked(e.queue[0].Deadline())
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
