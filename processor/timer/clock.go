package timer

import (
	"sync"
	"time"
)

// Clock tells the time timers are judged by and paces the scans. Tests drive a ManualClock;
// everything else runs on SystemClock.
type Clock interface {
	Now() time.Time
	// Ticks returns a channel that receives at every period d, and a function that stops it.
	Ticks(d time.Duration) (<-chan time.Time, func())
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// Ticks runs a time.Ticker.
func (SystemClock) Ticks(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// ManualClock is a clock that moves only when told to: Advance moves it and makes every ticker
// tick once, however far it moved, so a test decides when scans happen and at what time.
type ManualClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []chan time.Time
}

// NewManualClock returns a clock standing at now.
func NewManualClock(now time.Time) *ManualClock { return &ManualClock{now: now} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Ticks returns a channel that receives once per Advance. A tick not yet taken is not
// duplicated: the scan it starts reads the time then.
func (c *ManualClock) Ticks(time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.tickers = append(c.tickers, ch)
	return ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, t := range c.tickers {
			if t == ch {
				c.tickers = append(c.tickers[:i], c.tickers[i+1:]...)
				return
			}
		}
	}
}

// Advance moves the clock by d and ticks every ticker; it returns the new time.
func (c *ManualClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.tickers {
		select {
		case t <- c.now:
		default:
		}
	}
	return c.now
}
