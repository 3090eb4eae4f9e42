package sender

import "time"

// Clock is the sender's time for what it schedules: when a retry is due, the timestamp a
// request is signed with, the attempt history, and the breakers' open periods. Network
// timeouts run on real time whatever the clock.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed; stop cancels it.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
