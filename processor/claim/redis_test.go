package claim_test

import (
	"context"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/loyaltyhooks/loyaltyhooks/config"
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
	if ttl := rdb.PTTL(ctx, key).Val(); ttl < 59*time.Minute || ttl > time.Hour+(1<<claim.ExpiryBits)*time.Millisecond {
		t.Fatalf("claim TTL %v, want an hour to an hour and 2^20 ms", ttl)
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
		if len(k) != len("tenant-a:d:")+15 || k[:len("tenant-a:d:")] != "tenant-a:d:" {
			t.Errorf("key %q is not <prefix>d:<15 bytes>", k)
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

// TestRedisKey: a key is the prefix, "d:" and the messageId's bytes but the version's (byte 6),
// 30 characters with the default prefix so that Redis allocates it 32 bytes.
func TestRedisKey(t *testing.T) {
	c := claim.NewRedis(nil, config.Defaults().Redis.KeyPrefix, time.Hour)
	key, err := c.Key(idA)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.MustParse(idA)
	if want := "loyaltyhooks:d:" + string(id[:6]) + string(id[7:]); key != want || len(key) != 30 {
		t.Fatalf("key %q (%d characters), want %q (30)", key, len(key), want)
	}
	other, _ := c.Key(idB)
	if other == key {
		t.Fatal("two message ids share a key")
	}
	if _, err := c.Key("not-a-uuid"); err == nil {
		t.Fatal("a malformed message id has a key")
	}
}

// TestRedisClaimStored: a claim's value is an integer below 10 000 that Redis stores as its shared
// object, and its expiry, at least the ttl away and less than the ttl + 2^20 ms, carries the
// owner's expiry bits in its low 20 bits.
func TestRedisClaimStored(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	ctx := context.Background()
	const ttl = 2 * time.Hour
	c := claim.NewRedis(rdb, config.Defaults().Redis.KeyPrefix, ttl)
	var batch []claim.Claim
	for i := range 200 {
		batch = append(batch, claim.Claim{MessageID: uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(i)}).String(),
			Topic: "loyalty.public.wallet", Partition: int32(i % 3), Offset: int64(1000 + i)})
	}
	before := time.Now().UnixMilli()
	if err := c.Claim(ctx, batch); err != nil {
		t.Fatal(err)
	}
	after := time.Now().UnixMilli()
	for _, cl := range batch {
		if !cl.Emit {
			t.Fatalf("new claim %s dropped", cl.MessageID)
		}
		key, _ := c.Key(cl.MessageID)
		value, expiry := claim.OwnerOf(cl.Topic, cl.Partition, cl.Offset)
		if value < 0 || value >= 10000 || expiry < 0 || expiry >= 1<<claim.ExpiryBits {
			t.Fatalf("owner (%d, %d) out of range", value, expiry)
		}
		got, err := rdb.Get(ctx, key).Result()
		if err != nil || got != strconv.FormatInt(value, 10) {
			t.Fatalf("claim %s holds %q (%v), want %d", cl.MessageID, got, err, value)
		}
		if enc := rdb.ObjectEncoding(ctx, key).Val(); enc != "int" {
			t.Fatalf("claim %s value encoded %q, want int", cl.MessageID, enc)
		}
		if rc := rdb.ObjectRefCount(ctx, key).Val(); rc != math.MaxInt32 {
			t.Fatalf("claim %s value refcount %d, want the shared integer's (%d)", cl.MessageID, rc, math.MaxInt32)
		}
		at, err := rdb.Do(ctx, "pexpiretime", key).Int64()
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := before+ttl.Milliseconds(), after+ttl.Milliseconds()+1<<claim.ExpiryBits
		if at < lo || at >= hi {
			t.Fatalf("claim %s expires at %d, want in [%d, %d)", cl.MessageID, at, lo, hi)
		}
		if at&(1<<claim.ExpiryBits-1) != expiry {
			t.Fatalf("claim %s expires at %d, low bits %d, want %d", cl.MessageID, at, at&(1<<claim.ExpiryBits-1), expiry)
		}
	}
}

// TestDeadline: the expiry is the earliest instant at least ttl after now whose low 20 bits are
// the owner's.
func TestDeadline(t *testing.T) {
	const topic, ttl = "loyalty.public.member", time.Hour
	_, e := claim.OwnerOf(topic, 0, 1)
	const mask = 1<<claim.ExpiryBits - 1
	for _, tc := range []struct {
		name     string
		earliest int64 // now + ttl
		want     int64
	}{
		{"exact", 1_700_000_000_000&^mask | e, 1_700_000_000_000&^mask | e},
		{"later in the same 2^20", 1_700_000_000_000&^mask | e - 1, 1_700_000_000_000&^mask | e},
		{"next 2^20", 1_700_000_000_000&^mask | e + 1, 1_700_000_000_000&^mask | e + 1<<claim.ExpiryBits},
	} {
		if e == 0 && tc.name == "later in the same 2^20" {
			continue
		}
		now := time.UnixMilli(tc.earliest - ttl.Milliseconds())
		if got := claim.Deadline(topic, 0, 1, now, ttl); got != tc.want {
			t.Errorf("%s: deadline %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestHolds: a claim is the coordinates' only when both its value and its expiry bits are theirs,
// and a claim that is gone or has no expiry is no one's.
func TestHolds(t *testing.T) {
	const topic = "loyalty.public.member"
	v, e := claim.OwnerOf(topic, 1, 10)
	value := strconv.FormatInt(v, 10)
	at := int64(1_700_000_000_000)&^(1<<claim.ExpiryBits-1) | e
	for _, tc := range []struct {
		name     string
		value    string
		expireAt int64
		want     bool
	}{
		{"ours", value, at, true},
		{"ours, a later 2^20", value, at + 5<<claim.ExpiryBits, true},
		{"other value", strconv.FormatInt((v+1)%10000, 10), at, false},
		{"other expiry bits", value, at ^ 1, false},
		{"other high expiry bit", value, at ^ 1<<(claim.ExpiryBits-1), false},
		{"gone", value, -2, false},
		{"no expiry", value, -1, false},
		{"not a number", "x", at, false},
	} {
		if got := claim.Holds(topic, 1, 10, tc.value, tc.expireAt); got != tc.want {
			t.Errorf("%s: holds %v, want %v", tc.name, got, tc.want)
		}
	}
}

// sameValue finds another offset of the partition whose owner has the same value (the claim's
// stored integer) as offset's but other expiry bits.
func sameValue(t *testing.T, topic string, partition int32, offset int64) int64 {
	t.Helper()
	v, e := claim.OwnerOf(topic, partition, offset)
	for o := offset + 1; o < offset+10_000_000; o++ {
		if ov, oe := claim.OwnerOf(topic, partition, o); ov == v && oe != e {
			return o
		}
	}
	t.Fatal("no offset with the same value")
	return 0
}

// TestRedisClaimSameValue: a record whose owner has the same value as the claim's holder but
// other expiry bits is a duplicate: the second read, of the expiry, tells them apart. A claim
// that expires between the two reads, or has no expiry, is not ours either.
func TestRedisClaimSameValue(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	ctx := context.Background()
	const topic = "loyalty.public.wallet"
	c := claim.NewRedis(rdb, "t:", time.Hour)
	var seconds int
	claim.SetBetweenReads(c, func() { seconds++ })
	var rtts int
	c.Observe = func(time.Duration) { rtts++ }
	other := sameValue(t, topic, 3, 100)

	first := []claim.Claim{{MessageID: idA, Topic: topic, Partition: 3, Offset: 100}}
	if err := c.Claim(ctx, first); err != nil || !first[0].Emit || seconds != 0 {
		t.Fatalf("new claim: err %v, emit %v, %d expiry reads; want emitted in one round trip", err, first[0].Emit, seconds)
	}
	dup := []claim.Claim{{MessageID: idA, Topic: topic, Partition: 3, Offset: other}}
	if err := c.Claim(ctx, dup); err != nil {
		t.Fatal(err)
	}
	if dup[0].Emit {
		t.Fatal("a duplicate whose owner has the claim's value was emitted")
	}
	if seconds != 1 {
		t.Fatalf("%d expiry reads, want 1 for the candidate", seconds)
	}
	// Other coordinates, other value: dropped in one round trip.
	if v1, _ := claim.OwnerOf(topic, 3, 100); func() bool { v2, _ := claim.OwnerOf(topic, 4, 100); return v1 == v2 }() {
		t.Fatal("test coordinates share a value; pick others")
	}
	dup2 := []claim.Claim{{MessageID: idA, Topic: topic, Partition: 4, Offset: 100}}
	if err := c.Claim(ctx, dup2); err != nil || dup2[0].Emit || seconds != 1 {
		t.Fatalf("duplicate: err %v, emit %v, %d expiry reads; want dropped in one round trip", err, dup2[0].Emit, seconds)
	}
	replay := []claim.Claim{{MessageID: idA, Topic: topic, Partition: 3, Offset: 100}}
	if err := c.Claim(ctx, replay); err != nil || !replay[0].Emit || seconds != 2 {
		t.Fatalf("replay: err %v, emit %v, %d expiry reads; want emitted after reading the expiry", err, replay[0].Emit, seconds)
	}
	check := []claim.Claim{replay[0], dup[0]}
	if err := c.Claimed(ctx, check); err != nil {
		t.Fatal(err)
	}
	if got := emits(check); !got[0] || got[1] {
		t.Fatalf("claimed by their own coordinates: %v, want [true false]", got)
	}
	if rtts != 4 {
		t.Fatalf("Observe told %d times, want once per batch (4)", rtts)
	}

	// The claim expires between the claims and the read of its expiry: not ours any more.
	key, _ := c.Key(idA)
	claim.SetBetweenReads(c, func() {
		if err := rdb.PExpire(ctx, key, time.Millisecond).Err(); err != nil {
			t.Error(err)
		}
		time.Sleep(20 * time.Millisecond)
	})
	expired := []claim.Claim{{MessageID: idA, Topic: topic, Partition: 3, Offset: 100}}
	if err := c.Claim(ctx, expired); err != nil {
		t.Fatal(err)
	}
	if expired[0].Emit {
		t.Fatal("a claim that expired between the two reads was taken for ours")
	}
	claim.SetBetweenReads(c, nil)

	// Our value without an expiry (not a claim of this claimer): not ours.
	v, _ := claim.OwnerOf(topic, 3, 100)
	if err := rdb.Set(ctx, key, v, 0).Err(); err != nil {
		t.Fatal(err)
	}
	persist := []claim.Claim{{MessageID: idA, Topic: topic, Partition: 3, Offset: 100}}
	if err := c.Claim(ctx, persist); err != nil || persist[0].Emit {
		t.Fatalf("claim without expiry: err %v, emit %v; want dropped", err, persist[0].Emit)
	}
	persist[0].Emit = true
	if err := c.Claimed(ctx, persist); err != nil || persist[0].Emit {
		t.Fatalf("claimed without expiry: err %v, emit %v; want not ours", err, persist[0].Emit)
	}
}
