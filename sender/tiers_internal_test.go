package sender

import (
	"net/http"
	"testing"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/config"
)

func TestNextTier(t *testing.T) {
	c := config.Defaults()
	ts := newTiers(c) // 5s 5m 30m 2h 5h 10h 10h
	cases := []struct {
		failures   int
		retryAfter time.Duration
		want       time.Duration
		ok         bool
	}{
		{1, 0, 5 * time.Second, true},
		{1, time.Second, 5 * time.Second, true},     // Retry-After never shortens
		{1, 2 * time.Minute, 5 * time.Minute, true}, // it lengthens to the tier that covers it
		{2, 0, 5 * time.Minute, true},
		{6, 0, 10 * time.Hour, true},
		{7, 0, 10 * time.Hour, true},              // the second 10h tier is the same topic
		{3, 48 * time.Hour, 10 * time.Hour, true}, // capped at the longest tier
		{8, 0, 0, false},                          // no retry left
	}
	for _, c := range cases {
		got, ok := ts.next(c.failures, c.retryAfter)
		if got != c.want || ok != c.ok {
			t.Errorf("next(%d, %s) = %s, %v; want %s, %v", c.failures, c.retryAfter, got, ok, c.want, c.ok)
		}
	}
	if _, ok := (tiers{}).next(1, 0); ok {
		t.Error("with no retry delays a first failure must be the last")
	}
}

func TestDueJitterOnlyLengthens(t *testing.T) {
	ts := tiers{jitter: 0.1}
	now := time.Unix(1767225600, 0)
	for range 100 {
		d := ts.due(now, time.Minute).Sub(now)
		if d < time.Minute || d >= 66*time.Second {
			t.Fatalf("due after %s, want within [1m, 1m6s)", d)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":     0,
		"120":  2 * time.Minute,
		" 7 ":  7 * time.Second,
		"-3":   0,
		"soon": 0,
		now.Add(time.Hour).Format(http.TimeFormat):  time.Hour,
		now.Add(-time.Hour).Format(http.TimeFormat): 0,
	}
	for in, want := range cases {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}
