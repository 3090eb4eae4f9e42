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

const timersForMemory = 200_000

// BenchmarkTimerMemory schedules pending expiry timers (UUID entities of one tenant and trigger,
// spread over the shards) on a private redis-server and reports Redis's used_memory growth per
// timer, the figure the README's Redis sizing uses.
func BenchmarkTimerMemory(b *testing.B) {
	srv := redistest.Start(b)
	rdb := srv.Client()
	ctx := context.Background()
	store := timer.NewStore(rdb, config.Defaults().Redis.KeyPrefix)
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var bytes float64
	for range b.N {
		b.StopTimer()
		if err := rdb.FlushAll(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		before := redistest.UsedMemory(b, rdb)
		b.StartTimer()
		batch := make([]timer.Timer, 0, 1000)
		for i := range timersForMemory {
			batch = append(batch, timer.Timer{Tenant: "0a000000-0000-4000-8000-000000000001", Trigger: "PointsWillExpire",
				Entity: fmt.Sprintf("6a000000-0000-4000-8000-%012d", i), At: at.Add(time.Duration(i) * time.Second)})
			if len(batch) == cap(batch) {
				if err := store.Write(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		b.StopTimer()
		bytes += float64(redistest.UsedMemory(b, rdb) - before)
		b.StartTimer()
	}
	b.ReportMetric(bytes/float64(b.N*timersForMemory), "bytes/timer")
}
