package claim_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
	"github.com/loyaltyhooks/loyaltyhooks/processor/claim"
)

// claimBatch is the size of one batch's pipeline in these benchmarks: a typical poll.
const claimBatch = 1000

// batches returns n claims of distinct message ids, as batches of claimBatch, with the
// coordinates of a realistic change topic.
func batches(n, seed int) [][]claim.Claim {
	var out [][]claim.Claim
	for lo := 0; lo < n; lo += claimBatch {
		b := make([]claim.Claim, 0, claimBatch)
		for i := lo; i < min(lo+claimBatch, n); i++ {
			var id uuid.UUID
			binary.BigEndian.PutUint64(id[:8], uint64(seed))
			binary.BigEndian.PutUint64(id[8:], uint64(i))
			id[6], id[8] = id[6]&0x0f|0x50, id[8]&0x3f|0x80 // a version-5 UUID, like the real ids
			b = append(b, claim.Claim{MessageID: id.String(), Topic: "loyalty.public.wallet",
				Partition: int32(i % 6), Offset: int64(i / 6)})
		}
		out = append(out, b)
	}
	return out
}

// BenchmarkClaimMemory claims a million new message ids on a private redis-server and reports
// Redis's used_memory growth per claim (INFO memory before and after) and the claim rate of one
// client pipelining batches of 1000: with the default key prefix and with a short one (see
// README.md, "Sizing Redis" and "Benchmarks").
func BenchmarkClaimMemory(b *testing.B) {
	def := config.Defaults()
	b.Run("prefix=default", func(b *testing.B) {
		claimMemory(b, func(rdb *redis.Client) claim.Claimer {
			return claim.NewRedis(rdb, def.Redis.KeyPrefix, def.Processor.DedupTTL)
		})
	})
	b.Run("prefix=lh:", func(b *testing.B) {
		claimMemory(b, func(rdb *redis.Client) claim.Claimer {
			return claim.NewRedis(rdb, "lh:", def.Processor.DedupTTL)
		})
	})
}

const claimsForMemory = 1_000_000

func claimMemory(b *testing.B, newClaimer func(*redis.Client) claim.Claimer) {
	srv := redistest.Start(b)
	rdb := srv.Client()
	ctx := context.Background()
	c := newClaimer(rdb)
	work := batches(claimsForMemory, 1)
	var bytes, seconds float64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if err := rdb.FlushAll(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		before := redistest.UsedMemory(b, rdb)
		b.StartTimer()
		start := time.Now()
		for _, batch := range work {
			if err := c.Claim(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		seconds += time.Since(start).Seconds()
		b.StopTimer()
		if n := rdb.DBSize(ctx).Val(); n != claimsForMemory {
			b.Fatalf("%d keys after %d claims, want one per claim", n, claimsForMemory)
		}
		bytes += float64(redistest.UsedMemory(b, rdb) - before)
		b.StartTimer()
	}
	b.ReportMetric(bytes/float64(b.N*claimsForMemory), "bytes/claim")
	b.ReportMetric(float64(b.N*claimsForMemory)/seconds, "claims/s")
}

// BenchmarkClaim is one claim's cost in batches of 1000 new ids, one pipeline per batch.
func BenchmarkClaim(b *testing.B) {
	srv := redistest.Start(b)
	rdb := srv.Client()
	ctx := context.Background()
	c := claim.NewRedis(rdb, "bench:", time.Hour)
	work := batches(b.N, 2)
	b.ResetTimer()
	for _, batch := range work {
		if err := c.Claim(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
}
