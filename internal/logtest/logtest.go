package logtest

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
)

// Sink keeps everything written to it. It is safe for concurrent use.
type Sink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{} // signalled after each write
}

// New returns an empty Sink.
func New() *Sink { return &Sink{written: make(chan struct{}, 1)} }

// Write appends p.
func (s *Sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	n, err := s.buf.Write(p)
	s.mu.Unlock()
	select {
	case s.written <- struct{}{}:
	default:
	}
	return n, err
}

// String returns everything written so far.
func (s *Sink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// WaitFor returns once text has been written, and fails the test if ctx ends first.
func (s *Sink) WaitFor(ctx context.Context, t testing.TB, text string) {
	t.Helper()
	for !strings.Contains(s.String(), text) {
		select {
		case <-ctx.Done():
			t.Fatalf("%q was never written; got:\n%s", text, s.String())
		case <-s.written:
		}
	}
}
