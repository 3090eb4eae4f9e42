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

// Redis claims message ids with one SET … NX GET EX per event, all of a batch in one pipeline.
//
// To keep Redis memory per claim small, a key holds the 16 bytes of the messageId rather than its
// text, and a value is a 63-bit hash of the coordinates rather than their text: Redis stores such
// an integer inside the key's object with no string allocation. Two coordinates colliding in 63
// bits would make a duplicate look like a replay, once in about 10^19 pairs.
type Redis struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
	// Observe, when set, is told the round-trip time of each batch's pipeline.
	Observe func(time.Duration)
}

// NewRedis returns a claimer whose keys are <prefix>d:<16 bytes of the messageId>, kept for ttl.
func NewRedis(rdb redis.UniversalClient, prefix string, ttl time.Duration) *Redis {
	return &Redis{rdb: rdb, prefix: prefix, ttl: ttl}
}

// Key returns the Redis key of a messageId.
func (r *Redis) Key(messageID string) (string, error) {
	id, err := uuid.Parse(messageID)
	if err != nil {
		return "", fmt.Errorf("message id %q: %w", messageID, err)
	}
	return r.prefix + "d:" + string(id[:]), nil
}

// Owner is the stored form of a change's source coordinates.
func Owner(topic string, partition int32, offset int64) string {
	h := fnv.New64a()
	h.Write([]byte(topic))
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(partition))
	binary.BigEndian.PutUint64(b[4:], uint64(offset))
	h.Write(b[:])
	return strconv.FormatUint(h.Sum64()>>1, 10)
}

// Claim claims every message id in one pipeline and marks which may be emitted.
func (r *Redis) Claim(ctx context.Context, claims []Claim) error {
	if len(claims) == 0 {
		return nil
	}
	start := time.Now()
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.StatusCmd, len(claims))
	owners := make([]string, len(claims))
	for i := range claims {
		key, err := r.Key(claims[i].MessageID)
		if err != nil {
			return err
		}
		owners[i] = Owner(claims[i].Topic, claims[i].Partition, claims[i].Offset)
		cmds[i] = pipe.SetArgs(ctx, key, owners[i], redis.SetArgs{Mode: "NX", Get: true, TTL: r.ttl})
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("claim %d message ids: %w", len(claims), err)
	}
	if r.Observe != nil {
		r.Observe(time.Since(start))
	}
	for i, cmd := range cmds {
		prev, err := cmd.Result()
		switch {
		case errors.Is(err, redis.Nil):
			claims[i].Emit = true // new: the claim is ours
		case err != nil:
			return fmt.Errorf("claim %s: %w", claims[i].MessageID, err)
		default:
			// Our own coordinates: a batch of ours that aborted after claiming, replayed.
			claims[i].Emit = prev == owners[i]
		}
	}
	return nil
}

// Claimed reads the claims of the message ids, in one pipeline, and marks those held by their
// own coordinates. It claims nothing.
func (r *Redis) Claimed(ctx context.Context, claims []Claim) error {
	if len(claims) == 0 {
		return nil
	}
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(claims))
	for i := range claims {
		key, err := r.Key(claims[i].MessageID)
		if err != nil {
			return err
		}
		cmds[i] = pipe.Get(ctx, key)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("read claims of %d message ids: %w", len(claims), err)
	}
	for i, cmd := range cmds {
		owner, err := cmd.Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("read claim %s: %w", claims[i].MessageID, err)
		}
		claims[i].Emit = err == nil && owner == Owner(claims[i].Topic, claims[i].Partition, claims[i].Offset)
	}
	return nil
}
