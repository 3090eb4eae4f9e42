package claim_test

import (
	"context"
	"encoding/binary"
	"errors"
	"strconv"
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
// client pipelining batches of 1000: with the default key prefix, with a short one, and, for
// comparison, the layout proposed in README.md ("Benchmarks") for staying under 120 bytes.
func BenchmarkClaimMemory(b *testing.B) {
	def := config.Defaults()
	b.Run("prefix=default", func(b *testing.B) {
		claimMemory(b, func(rdb *redis.Client) claim.Claimer {
			return claim.NewRedis(rdb, def.Redis.KeyPrefix, def.Processor.DedupTTL)
		}, claimsForMemory)
	})
	b.Run("prefix=lh:", func(b *testing.B) {
		claimMemory(b, func(rdb *redis.Client) claim.Claimer {
			return claim.NewRedis(rdb, "lh:", def.Processor.DedupTTL)
		}, claimsForMemory)
	})
	b.Run("proposal=generation-buckets", func(b *testing.B) {
		claimMemory(b, func(rdb *redis.Client) claim.Claimer {
			return newBucketClaimer(b, rdb, def.Redis.KeyPrefix, def.Processor.DedupTTL)
		}, -1)
	})
}

const claimsForMemory = 1_000_000

func claimMemory(b *testing.B, newClaimer func(*redis.Client) claim.Claimer, keys int64) {
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
		if n := rdb.DBSize(ctx).Val(); keys >= 0 && n != keys {
			b.Fatalf("%d keys after %d claims, want %d", n, claimsForMemory, keys)
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

// bucketClaimer is the layout README.md ("Benchmarks") proposes for fewer bytes per claim on
// Redis 7.0, here only to measure its memory; it is not used by the processor. Claims live as
// fields of small hashes — 65536 buckets by the messageId's first two bytes, field = the other
// 14 bytes, value = the owner hash — that Redis keeps as compact listpacks, one bucket key per
// generation of ttl, expiring whole after two generations. A claim checks the current and the
// previous generation, so a messageId is remembered for at least ttl, at most twice that. One
// EVALSHA per claim, all of a batch in one pipeline, both keys of a claim in one cluster slot.
type bucketClaimer struct {
	rdb    *redis.Client
	prefix string
	ttl    time.Duration
}

var bucketScript = redis.NewScript(`
local prev = redis.call('HGET', KEYS[1], ARGV[1]) or redis.call('HGET', KEYS[2], ARGV[1])
if prev then return prev end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('TTL', KEYS[1]) == -1 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return false`)

func newBucketClaimer(tb testing.TB, rdb *redis.Client, prefix string, ttl time.Duration) *bucketClaimer {
	if err := bucketScript.Load(context.Background(), rdb).Err(); err != nil {
		tb.Fatal(err)
	}
	return &bucketClaimer{rdb: rdb, prefix: prefix, ttl: ttl}
}

func (c *bucketClaimer) Claim(ctx context.Context, claims []claim.Claim) error {
	gen := time.Now().Unix() / int64(c.ttl.Seconds())
	expire := strconv.FormatInt(int64(2*c.ttl.Seconds()), 10)
	pipe := c.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(claims))
	owners := make([]string, len(claims))
	for i := range claims {
		id, err := uuid.Parse(claims[i].MessageID)
		if err != nil {
			return err
		}
		bucket := c.prefix + "c:{" + string(id[:2]) + "}"
		owners[i] = claim.Owner(claims[i].Topic, claims[i].Partition, claims[i].Offset)
		cmds[i] = bucketScript.EvalSha(ctx, pipe,
			[]string{bucket + strconv.FormatInt(gen, 10), bucket + strconv.FormatInt(gen-1, 10)},
			string(id[2:]), owners[i], expire)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	for i, cmd := range cmds {
		prev, err := cmd.Text()
		switch {
		case errors.Is(err, redis.Nil):
			claims[i].Emit = true
		case err != nil:
			return err
		default:
			claims[i].Emit = prev == owners[i]
		}
	}
	return nil
}
