package timer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
	"github.com/loyaltyhooks/loyaltyhooks/processor/timer"
)

// benchTimers is how many timers the scale benchmark keeps in Redis.
const benchTimers = 1_000_000

var benchTriggers = []string{"PointsWillExpire", "CouponWillExpire", "LevelWillExpire"}

// BenchmarkTimers fills a real redis-server with a million timers (one tenant, the three expiry
// triggers, expiries spread over a year from 20 days on) and reports the memory each takes, then
// the cost of one tick's scan by an instance owning every shard (3 triggers × 64 shards = 192
// sets): with nothing due, and with a full budget of 1000 due timers found, checked against the
// fired marks and removed. Writing the due records to Kafka is not part of it.
func BenchmarkTimers(b *testing.B) {
	srv := redistest.Start(b)
	rdb := srv.Client()
	ctx := context.Background()
	store := timer.NewStore(rdb, config.Defaults().Redis.KeyPrefix)
	const tenant = "0a000000-0000-4000-8000-000000000001"
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	day := func(n int) time.Time { return start.AddDate(0, 0, n) }
	// fill schedules n timers of new entities from, spread from first over span.
	fill := func(from, n int, first time.Time, span time.Duration) {
		batch := make([]timer.Timer, 0, 10_000)
		for i := from; i < from+n; i++ {
			batch = append(batch, timer.Timer{Tenant: tenant, Trigger: benchTriggers[i%3],
				Entity: fmt.Sprintf("6a000000-0000-4000-8000-%012d", i),
				At:     first.Add(time.Duration(int64(span) / int64(n) * int64(i-from)))})
			if len(batch) == cap(batch) || i == from+n-1 {
				if err := store.Write(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
	before := redistest.UsedMemory(b, rdb)
	fill(0, benchTimers, day(20), 365*24*time.Hour)
	perTimer := float64(redistest.UsedMemory(b, rdb)-before) / benchTimers

	// scans are the sets of an instance that owns every shard, looking N = 10 days ahead of now.
	scans := func(now time.Time) []timer.Scan {
		var out []timer.Scan
		for _, trig := range benchTriggers {
			for _, s := range timer.OwnedShards([]int32{0}, 1) {
				out = append(out, timer.Scan{Set: timer.Set{Tenant: tenant, Trigger: trig, Shard: s}, Horizon: now.AddDate(0, 0, 10)})
			}
		}
		return out
	}

	b.Run("tick-idle", func(b *testing.B) {
		sc := scans(start) // the earliest expiry is 20 days out: nothing due
		for range b.N {
			res, err := store.Scan(ctx, start, sc, 1000)
			if err != nil || len(res.Due) != 0 {
				b.Fatalf("idle scan: %d due, %v", len(res.Due), err)
			}
		}
		b.ReportMetric(float64(len(sc)), "sets/tick")
		b.ReportMetric(perTimer, "redis-bytes/timer")
	})
	next := benchTimers // the next new entity: every run of the benchmark adds new ones
	b.Run("tick-1000-due", func(b *testing.B) {
		now := day(15) // due: the expiries of days 20 to 25
		sc := scans(now)
		for range b.N {
			res, err := store.Scan(ctx, now, sc, 1000)
			if err == nil {
				err = store.Fired(ctx, res.Due)
			}
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Due) < 1000 {
				b.Fatalf("only %d due", len(res.Due))
			}
			// Keep the million: as many new timers, due in the same days, outside the timing.
			b.StopTimer()
			fill(next, 1000, day(20), 5*24*time.Hour)
			next += 1000
			b.StartTimer()
		}
	})
}
