package claim_test

import (
	"context"
	"testing"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
	"github.com/loyaltyhooks/loyaltyhooks/processor/claim"
)

const (
	idA = "0933eba8-9382-548c-ad0e-85e96a154a5c"
	idB = "17b14f70-590a-581f-bccd-9e29f13e6234"
)

func emits(cs []claim.Claim) []bool {
	out := make([]bool, len(cs))
	for i, c := range cs {
		out[i] = c.Emit
	}
	return out
}

func TestRedisClaim(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	ctx := context.Background()
	c := claim.NewRedis(rdb, "t:", time.Hour)
	var rtts int
	c.Observe = func(time.Duration) { rtts++ }

	first := []claim.Claim{{MessageID: idA, Topic: "loyalty.public.member", Partition: 0, Offset: 10}, {MessageID: idB, Topic: "loyalty.public.member", Partition: 0, Offset: 11}}
	if err := c.Claim(ctx, first); err != nil {
		t.Fatal(err)
	}
	if got := emits(first); !got[0] || !got[1] {
		t.Fatalf("new claims emit %v, want both", got)
	}
	// Our own aborted batch, replayed: same coordinates, emitted again.
	replay := []claim.Claim{{MessageID: idA, Topic: "loyalty.public.member", Partition: 0, Offset: 10}}
	if err := c.Claim(ctx, replay); err != nil {
		t.Fatal(err)
	}
	if !replay[0].Emit {
		t.Fatal("a replay of our own claim was dropped")
	}
	// Debezium redelivered the change at a later offset: a duplicate.
	dup := []claim.Claim{{MessageID: idB, Topic: "loyalty.public.member", Partition: 0, Offset: 57}}
	if err := c.Claim(ctx, dup); err != nil {
		t.Fatal(err)
	}
	if dup[0].Emit {
		t.Fatal("a redelivered change was emitted again")
	}
	if rtts != 3 {
		t.Fatalf("observed %d round trips, want one per batch (3)", rtts)
	}
	key, err := c.Key(idA)
	if err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.TTL(ctx, key).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("claim TTL %v, want about an hour", ttl)
	}
	if err := c.Claim(ctx, []claim.Claim{{MessageID: "not-a-uuid", Topic: "x", Partition: 0, Offset: 1}}); err == nil {
		t.Fatal("a malformed message id was claimed")
	}

	srv.Stop()
	down := []claim.Claim{{MessageID: idA, Topic: "loyalty.public.member", Partition: 0, Offset: 10}}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Claim(cctx, down); err == nil || down[0].Emit {
		t.Fatalf("claim with Redis down: err %v, emit %v; want an error and nothing emitted", err, down[0].Emit)
	}
}

// TestRedisClaimWithinBatch: a change and its redelivery polled in the same batch — the first
// claim wins, the second is a duplicate, all in one round trip — and the key prefix is the
// configured one.
func TestRedisClaimWithinBatch(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	ctx := context.Background()
	c := claim.NewRedis(rdb, "tenant-a:", time.Minute)
	var rtts int
	c.Observe = func(time.Duration) { rtts++ }
	batch := []claim.Claim{
		{MessageID: idA, Topic: "loyalty.public.wallet", Partition: 2, Offset: 40},
		{MessageID: idB, Topic: "loyalty.public.wallet", Partition: 2, Offset: 41},
		{MessageID: idA, Topic: "loyalty.public.wallet", Partition: 5, Offset: 7}, // redelivered after a repartition
	}
	if err := c.Claim(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if got := emits(batch); !got[0] || !got[1] || got[2] {
		t.Fatalf("emits %v, want [true true false]", got)
	}
	if rtts != 1 {
		t.Fatalf("%d round trips for one batch", rtts)
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if len(k) != len("tenant-a:d:")+16 || k[:len("tenant-a:d:")] != "tenant-a:d:" {
			t.Errorf("key %q is not <prefix>d:<16 bytes>", k)
		}
	}
	if len(keys) != 2 {
		t.Fatalf("%d keys, want one per message id", len(keys))
	}
	// The same replay in the next batch: each event follows its owner.
	again := append([]claim.Claim(nil), batch...)
	for i := range again {
		again[i].Emit = false
	}
	if err := c.Claim(ctx, again); err != nil {
		t.Fatal(err)
	}
	if got := emits(again); !got[0] || !got[1] || got[2] {
		t.Fatalf("replayed batch emits %v, want [true true false]", got)
	}
}

// TestRedisClaimed: reading claims claims nothing, and tells a claim held by the asking
// coordinates from one held by others and from none.
func TestRedisClaimed(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	c := claim.NewRedis(srv.Client(), "t:", time.Hour)
	if err := c.Claim(ctx, []claim.Claim{{MessageID: idA, Topic: "loyalty.public.wallet", Partition: 1, Offset: 7}}); err != nil {
		t.Fatal(err)
	}
	check := []claim.Claim{
		{MessageID: idA, Topic: "loyalty.public.wallet", Partition: 1, Offset: 7},   // ours
		{MessageID: idA, Topic: "loyalty.webhooks.timers", Partition: 0, Offset: 3}, // someone else's
		{MessageID: idB, Topic: "loyalty.public.wallet", Partition: 1, Offset: 8, Emit: true},
	}
	if err := c.Claimed(ctx, check); err != nil {
		t.Fatal(err)
	}
	if got := emits(check); !got[0] || got[1] || got[2] {
		t.Fatalf("claimed by their own coordinates: %v, want only the first", got)
	}
	key, _ := c.Key(idB)
	if n := srv.Client().Exists(ctx, key).Val(); n != 0 {
		t.Fatal("reading a claim made one")
	}
}
