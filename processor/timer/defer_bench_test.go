package timer_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
	"github.com/loyaltyhooks/loyaltyhooks/processor/timer"
)

// BenchmarkDefer stores batches of 1000 deferred changes of 1.4 KB records, as a cold start's
// batches do, and reports the cost per deferred change: the encoding of its due record and its
// share of the batch's Redis pipeline.
func BenchmarkDefer(b *testing.B) {
	srv := redistest.Start(b)
	rdb := srv.Client()
	ctx := context.Background()
	store := timer.NewStore(rdb, "bench:")
	value := bytes.Repeat([]byte(`{"a":"b\"c",`), 120)
	now := time.Now()
	b.ResetTimer()
	for n := 0; n < b.N; n += 1000 {
		ds := make([]timer.Deferral, 0, 1000)
		for i := n; i < n+1000; i++ {
			row := fmt.Sprintf("member/%d", i)
			id := fmt.Sprintf("member.public/%d/%d", i%6, i)
			def := &timer.Deferred{Topic: "t", Partition: int32(i % 6), Offset: int64(i), Timestamp: now, Value: value,
				Key: []byte(row), Row: row, Triggers: []string{"CustomerRegistered"}, Waiting: []string{"tenant"}, Since: now, Attempt: 1}
			ds = append(ds, timer.Deferral{ID: id, Row: row, At: now.Add(time.Second), First: true,
				Hold:   timer.Hold{ID: id, Position: int64(i), Since: now},
				Record: timer.Due{Kind: timer.KindDeferred, Deferred: def}.Encode()})
		}
		if err := store.Defer(ctx, ds, nil, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}
