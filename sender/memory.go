package sender

import (
	"context"
	"hash/crc32"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// memory remembers delivered (subscription, messageId) pairs in Redis. Every delivery asks and
// every success tells, so the requests of all deliveries in flight are gathered into one
// pipeline per round trip, and within it into one command per Redis key: the pairs live as
// fields of hashes, one per UTC day of the events' createdAt and shard, each expiring
// sender.deliveredTTL after it was last written. A pair is so remembered for at least that
// long, with a command per key and batch rather than per delivery.
type memory struct {
	rdb     redis.UniversalClient
	base    string // the sender's key prefix
	prefix  string // of the delivered hashes
	ttl     time.Duration
	ops     chan *memoryOp
	healthy atomic.Bool
	failed  func(op string) // counts a failed Redis operation
}

type memoryOp struct {
	key, field string
	set        bool // remember, rather than ask
	found      bool
	err        error
	done       chan struct{} // nil for a remember nobody waits for
}

// maxPipeline bounds the operations of one round trip; shards spreads a day over Redis
// Cluster slots.
const (
	maxPipeline = 1024
	shards      = 16
)

func newMemory(rdb redis.UniversalClient, keyPrefix string, ttl time.Duration, failed func(string)) *memory {
	m := &memory{rdb: rdb, base: keyPrefix + "sender:", prefix: keyPrefix + "sender:delivered:", ttl: ttl, ops: make(chan *memoryOp, maxPipeline), failed: failed}
	m.healthy.Store(true)
	return m
}

// locate returns the hash and field of a pair.
func (m *memory) locate(subscriptionID, messageID string, createdAt time.Time) (key, field string) {
	field = subscriptionID + ":" + messageID
	shard := crc32.ChecksumIEEE([]byte(messageID)) % shards // the same in every instance
	b := make([]byte, 0, len(m.prefix)+14)
	b = createdAt.UTC().AppendFormat(append(b, m.prefix...), time.DateOnly)
	return string(strconv.AppendUint(append(b, ':'), uint64(shard), 10)), field
}

// run sends the gathered operations until ctx ends, then what is still queued.
func (m *memory) run(ctx context.Context) {
	batch := make([]*memoryOp, 0, maxPipeline)
	for {
		select {
		case <-ctx.Done():
			m.flush()
			return
		case op := <-m.ops:
			m.exec(ctx, m.gather(append(batch[:0], op)))
		}
	}
}

// flush sends the operations queued when the sender stops, within a short budget.
func (m *memory) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for {
		batch := m.gather(nil)
		if len(batch) == 0 || ctx.Err() != nil {
			return
		}
		m.exec(ctx, batch)
	}
}

// gather appends to batch the operations queued now, up to a pipeline's worth, without waiting.
func (m *memory) gather(batch []*memoryOp) []*memoryOp {
	for len(batch) < maxPipeline {
		select {
		case op := <-m.ops:
			batch = append(batch, op)
		default:
			return batch
		}
	}
	return batch
}

// group is the operations of one batch on one key.
type group struct {
	asks   []*memoryOp
	fields []any // of the remembers, each followed by its value
	sets   []*memoryOp
}

func (m *memory) exec(ctx context.Context, batch []*memoryOp) {
	groups := map[string]*group{}
	for _, op := range batch {
		g := groups[op.key]
		if g == nil {
			g = &group{}
			groups[op.key] = g
		}
		if op.set {
			g.fields = append(g.fields, op.field, "1")
			g.sets = append(g.sets, op)
		} else {
			g.asks = append(g.asks, op)
		}
	}
	pipe := m.rdb.Pipeline()
	type asked struct {
		cmd *redis.SliceCmd
		ops []*memoryOp
	}
	type told struct {
		cmd redis.Cmder
		ops []*memoryOp
	}
	var asks []asked
	var tells []told
	for key, g := range groups {
		if len(g.asks) > 0 {
			fields := make([]string, len(g.asks))
			for i, op := range g.asks {
				fields[i] = op.field
			}
			asks = append(asks, asked{pipe.HMGet(ctx, key, fields...), g.asks})
		}
		if len(g.sets) > 0 {
			tells = append(tells, told{pipe.HSet(ctx, key, g.fields...), g.sets})
			pipe.Expire(ctx, key, m.ttl)
		}
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	ok := true
	for _, a := range asks {
		vals, err := a.cmd.Result()
		for i, op := range a.ops {
			op.err = err
			op.found = err == nil && i < len(vals) && vals[i] != nil
		}
		ok = ok && err == nil
	}
	for _, t := range tells {
		if err := t.cmd.Err(); err != nil {
			ok = false
			for range t.ops {
				m.failed("remember")
			}
		}
	}
	m.healthy.Store(ok)
	for _, op := range batch {
		if op.done != nil {
			op.done <- struct{}{}
		}
	}
}

var opPool = sync.Pool{New: func() any { return &memoryOp{done: make(chan struct{}, 1)} }}

// delivered reports whether the pair was delivered before. While Redis fails it waits and asks
// again: sending unchecked could resend what a crashed instance delivered. ok is false when
// stop closed first.
func (m *memory) delivered(subscriptionID, messageID string, createdAt time.Time, stop <-chan struct{}) (found, ok bool) {
	key, field := m.locate(subscriptionID, messageID, createdAt)
	wait := 50 * time.Millisecond
	for {
		op := opPool.Get().(*memoryOp)
		op.key, op.field, op.set, op.found, op.err = key, field, false, false, nil
		select {
		case m.ops <- op:
		case <-stop:
			opPool.Put(op)
			return false, false
		}
		select {
		case <-op.done:
		case <-stop:
			return false, false // op is still queued: it is not reused
		}
		found, err := op.found, op.err
		opPool.Put(op)
		if err == nil {
			return found, true
		}
		m.failed("check")
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			return false, false
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// remember records a delivery without waiting for Redis: the webhook is delivered either way,
// and a pair not remembered costs at most a resend after a crash. A failure is counted.
func (m *memory) remember(subscriptionID, messageID string, createdAt time.Time, stop <-chan struct{}) {
	key, field := m.locate(subscriptionID, messageID, createdAt)
	select {
	case m.ops <- &memoryOp{key: key, field: field, set: true}:
	case <-stop:
	}
}

// The started watermark of a partition: the highest offset whose deliveries any instance may
// have started. Records above it were never started, so they need no delivered check; a
// worker reserves offsets ahead of those it starts, in steps, before starting them.
const reserveAhead = 1000

func (m *memory) watermarkKey(group, topic string, partition int32) string {
	return m.base + "started:" + group + ":" + topic + ":" + strconv.Itoa(int(partition))
}

// watermark returns the partition's started watermark, -1 when no record was ever started.
func (m *memory) watermark(ctx context.Context, key string) (int64, error) {
	n, err := m.rdb.Get(ctx, key).Int64()
	if err == redis.Nil {
		return -1, nil
	}
	return n, err
}

// reserve raises the partition's started watermark to offset; it never lowers it, whichever
// instance wrote last.
func (m *memory) reserve(ctx context.Context, key string, offset int64) error {
	return raiseScript.Run(ctx, m.rdb, []string{key}, offset, m.ttl.Milliseconds()).Err()
}

var raiseScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '-1')
local new = tonumber(ARGV[1])
if new > cur then cur = new end
redis.call('SET', KEYS[1], cur, 'PX', ARGV[2])
return cur`)
