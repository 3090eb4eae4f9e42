package claim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Redis claims message ids with one SET … NX GET PXAT per event, all of a batch in one pipeline.
//
// A claim is laid out for the least Redis memory (about 113 bytes with a prefix of up to 13
// characters, see README.md "Sizing Redis"):
//
//   - The key is <prefix>d: and 15 of the messageId's 16 bytes: byte 6, which holds the UUID's
//     version nibble, is left out, so a key of the default prefix is 30 characters and fits
//     Redis's 32-byte allocation. The 15 bytes keep about 118 random bits: two live messageIds
//     share a key once in about n²/2^119 for n claims (below 10^-17 for a billion), and such a
//     collision would drop the later event as a duplicate.
//   - The owner, a 64-bit hash of the source coordinates (topic, partition, offset), is split in
//     two: its value v = hash mod 10 000 is the claim's value, an integer Redis stores as a shared
//     object at no memory cost, and the next 20 bits e are the low 20 bits of the claim's
//     absolute expiry in milliseconds (PXAT). A claim therefore lives at least the ttl and at most
//     the ttl + 2^20 ms (about 17.5 minutes), counted on the processor's clock: a clock behind
//     Redis's shortens claims by as much, so keep it synchronized.
//
// A claim holding another value is another record's: a duplicate, dropped. A claim holding our
// value is ours only if its expiry's low 20 bits are e too: for those candidates alone (replays of
// our own aborted batches, and one duplicate in 10 000) a second pipeline reads PEXPIRETIME, so
// the common batch stays one round trip. A duplicate whose coordinates match ours in both v and e,
// once in 10 000 × 2^20 ≈ 10^10 duplicates, is taken for a replay and emitted once more.
//
// The value costs nothing only while Redis shares small integers: with no maxmemory, or a
// maxmemory-policy that is neither LRU nor LFU (noeviction, as recommended, or volatile-ttl).
type Redis struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
	// Observe, when set, is told how long each batch's claims took: one round trip, two when
	// some claim holds our value and its expiry must be read.
	Observe func(time.Duration)
	// betweenReads, when set (tests only), runs between the claims and the read of the
	// candidates' expiries.
	betweenReads func()
}

// NewRedis returns a claimer whose keys are <prefix>d:<15 bytes of the messageId>, kept for at
// least ttl and at most ttl + 2^20 ms.
func NewRedis(rdb redis.UniversalClient, prefix string, ttl time.Duration) *Redis {
	return &Redis{rdb: rdb, prefix: prefix, ttl: ttl}
}

// Key returns the Redis key of a messageId: the prefix, "d:", and the messageId's 16 bytes but
// byte 6 (the UUID version's).
func (r *Redis) Key(messageID string) (string, error) {
	id, err := uuid.Parse(messageID)
	if err != nil {
		return "", fmt.Errorf("message id %q: %w", messageID, err)
	}
	b := make([]byte, 0, len(r.prefix)+2+15)
	b = append(b, r.prefix...)
	b = append(b, "d:"...)
	b = append(b, id[:6]...)
	b = append(b, id[7:]...)
	return string(b), nil
}

const (
	// sharedInts is how many small integers Redis keeps as shared objects (OBJ_SHARED_INTEGERS):
	// a value below it is stored as a pointer to the shared one.
	sharedInts = 10000
	// expiryBits is how many low bits of a claim's expiry in milliseconds hold its owner.
	expiryBits = 20
	expiryMask = 1<<expiryBits - 1
)

// owner is the stored form of a change's source coordinates: the claim's value, below
// sharedInts, and the low expiryBits bits of its expiry in milliseconds.
type owner struct {
	value  int64
	expiry int64
}

// ownerOf returns the owner of the coordinates.
func ownerOf(topic string, partition int32, offset int64) owner {
	h := fnv.New64a()
	h.Write([]byte(topic))
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(partition))
	binary.BigEndian.PutUint64(b[4:], uint64(offset))
	h.Write(b[:])
	// FNV's low bits depend on the low bits of the input bytes alone: mix before splitting.
	x := mix64(h.Sum64())
	return owner{value: int64(x % sharedInts), expiry: int64((x / sharedInts) & expiryMask)}
}

// mix64 is MurmurHash3's 64-bit finalizer: every output bit depends on every input bit.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// deadline returns the expiry, in Unix milliseconds, of a claim made at now: at least ttl later,
// less than ttl + 2^expiryBits ms later, with o's expiry bits as its low bits.
func (o owner) deadline(now time.Time, ttl time.Duration) int64 {
	earliest := now.UnixMilli() + ttl.Milliseconds()
	d := earliest&^expiryMask | o.expiry
	if d < earliest {
		d += expiryMask + 1
	}
	return d
}

// stored is the claim's value: o's value in decimal, the form Redis shares.
func (o owner) stored() string {
	return strconv.FormatInt(o.value, 10)
}

// holds reports whether a claim with this value and this expiry (PEXPIRETIME: -2 for a key
// that is gone, -1 for one without expiry) is o's.
func (o owner) holds(value string, expireAt int64) bool {
	return value == o.stored() && expireAt >= 0 && expireAt&expiryMask == o.expiry
}

// Claim claims every message id in one pipeline and marks which may be emitted.
func (r *Redis) Claim(ctx context.Context, claims []Claim) error {
	if len(claims) == 0 {
		return nil
	}
	start := time.Now()
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(claims))
	keys := make([]string, len(claims))
	owners := make([]owner, len(claims))
	values := make([]string, len(claims))
	for i := range claims {
		key, err := r.Key(claims[i].MessageID)
		if err != nil {
			return err
		}
		keys[i] = key
		owners[i] = ownerOf(claims[i].Topic, claims[i].Partition, claims[i].Offset)
		values[i] = owners[i].stored()
		// go-redis's SetArgs.ExpireAt sends EXAT (seconds) for some instants: PXAT by hand.
		cmds[i] = pipe.Do(ctx, "set", key, values[i], "nx", "get", "pxat", owners[i].deadline(start, r.ttl))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("claim %d message ids: %w", len(claims), err)
	}
	var candidates []int
	for i, cmd := range cmds {
		prev, err := cmd.Text()
		switch {
		case errors.Is(err, redis.Nil):
			claims[i].Emit = true // new: the claim is ours
		case err != nil:
			return fmt.Errorf("claim %s: %w", claims[i].MessageID, err)
		default:
			claims[i].Emit = false
			if prev == values[i] {
				candidates = append(candidates, i) // ours if its expiry says so too
			}
		}
	}
	if len(candidates) > 0 {
		if r.betweenReads != nil {
			r.betweenReads()
		}
		pipe := r.rdb.Pipeline()
		exps := make([]*redis.Cmd, len(candidates))
		for j, i := range candidates {
			exps[j] = pipe.Do(ctx, "pexpiretime", keys[i])
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("read the expiry of %d claims: %w", len(candidates), err)
		}
		for j, i := range candidates {
			at, err := exps[j].Int64()
			if err != nil {
				return fmt.Errorf("read the expiry of claim %s: %w", claims[i].MessageID, err)
			}
			// Our own coordinates: a batch of ours that aborted after claiming, replayed.
			claims[i].Emit = owners[i].holds(values[i], at)
		}
	}
	if r.Observe != nil {
		r.Observe(time.Since(start))
	}
	return nil
}

// Claimed reads the claims of the message ids (GET and PEXPIRETIME), in one pipeline, and marks
// those held by their own coordinates. It claims nothing.
func (r *Redis) Claimed(ctx context.Context, claims []Claim) error {
	if len(claims) == 0 {
		return nil
	}
	pipe := r.rdb.Pipeline()
	gets := make([]*redis.StringCmd, len(claims))
	exps := make([]*redis.Cmd, len(claims))
	for i := range claims {
		key, err := r.Key(claims[i].MessageID)
		if err != nil {
			return err
		}
		gets[i] = pipe.Get(ctx, key)
		exps[i] = pipe.Do(ctx, "pexpiretime", key)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("read claims of %d message ids: %w", len(claims), err)
	}
	for i := range claims {
		value, err := gets[i].Result()
		if errors.Is(err, redis.Nil) {
			claims[i].Emit = false
			continue
		}
		if err != nil {
			return fmt.Errorf("read claim %s: %w", claims[i].MessageID, err)
		}
		at, err := exps[i].Int64()
		if err != nil {
			return fmt.Errorf("read the expiry of claim %s: %w", claims[i].MessageID, err)
		}
		claims[i].Emit = ownerOf(claims[i].Topic, claims[i].Partition, claims[i].Offset).holds(value, at)
	}
	return nil
}
