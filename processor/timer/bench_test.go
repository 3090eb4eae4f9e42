package timer

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
)

// benchTimers is how many timers the scale benchmark keeps in Redis.
const benchTimers = 1_000_000

var benchTriggers = []string{"PointsWillExpire", "CouponWillExpire", "LevelWillExpire"}

// BenchmarkTimers fills a real redis-server with a million timers (one tenant, the three expiry
// triggers, expiries spread over a year from 20 days on) and reports the memory each takes, then
// the cost of one tick's scan by an instance owning every shard (3 triggers × 64 shards = 192
// sets): with nothing due, and with a full budget of 1000 due timers found and removed. Writing
// the due records to Kafka is not part of it.
func BenchmarkTimers(b *testing.B) {
	srv := redistest.Start(b)
	rdb := srv.Client()
	ctx := context.Background()
	store := NewStore(rdb, "loyaltyhooks:")
	before := usedMemory(b, rdb)
	fill := func(from, n int, first time.Time, span time.Duration) {
		batch := make([]Timer, 0, 10_000)
		for i := from; i < from+n; i++ {
			at := first.Add(time.Duration(int64(span) / int64(n) * int64(i-from))).Add(time.Duration(i%1000) * time.Microsecond)
			batch = append(batch, Timer{Tenant: tenant, Trigger: benchTriggers[i%3], Entity: entity(i), At: at})
			if len(batch) == cap(batch) || i == from+n-1 {
				if err := store.Write(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
	fill(0, benchTimers, day(20), 365*24*time.Hour)
	perTimer := float64(usedMemory(b, rdb)-before) / benchTimers

	var scans []Scan
	for _, trig := range benchTriggers {
		for s := range Shards {
			scans = append(scans, Scan{Set: Set{Tenant: tenant, Trigger: trig, Shard: s}})
		}
	}
	scanAt := func(now time.Time) []Scan {
		for i := range scans {
			scans[i].Horizon = now.Add(10 * 24 * time.Hour)
		}
		return scans
	}

	b.Run("tick-idle", func(b *testing.B) {
		sc := scanAt(t0) // the earliest expiry is 20 days out: nothing due
		for range b.N {
			res, err := store.Scan(ctx, t0, sc, 1000)
			if err != nil || len(res.Due) != 0 {
				b.Fatalf("idle scan: %d due, %v", len(res.Due), err)
			}
		}
		b.ReportMetric(float64(len(sc)), "sets/tick")
		b.ReportMetric(perTimer, "redis-bytes/timer")
	})
	next := benchTimers // the next new entity: every run of the benchmark adds new ones
	b.Run("tick-1000-due", func(b *testing.B) {
		now := day(15) // due: expiries in the 5 days from day 20 to 25
		sc := scanAt(now)
		for range b.N {
			t1 := time.Now()
			res, err := store.Scan(ctx, now, sc, 1000)
			t2 := time.Now()
			if err == nil {
				err = store.Fired(ctx, res.Due)
			}
			fmt.Println("scan", t2.Sub(t1), "fire", time.Since(t2))
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Due) < 1000 {
				b.Fatalf("only %d due", len(res.Due))
			}
			// Keep the million: as many new timers, due in the same window, outside the timing.
			b.StopTimer()
			fill(next, 1000, day(20), 5*24*time.Hour)
			next += 1000
			b.StartTimer()
		}
	})
}

// usedMemory is Redis's used_memory: what its allocator holds for data and overhead.
func usedMemory(b *testing.B, rdb *redis.Client) int64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal(fmt.Errorf("no used_memory in INFO memory"))
	return 0
}
