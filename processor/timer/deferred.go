package timer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Deferred changes wait in Redis like timers, in shards of their row, so that the owner of
// partition p of the timers topic scans those with shard s mod P = p. Per shard s there are
// <prefix>deferred:{deferred/s}, a sorted set of deferral ids scored by when each is due next,
// <prefix>deferred:{deferred/s}:records, the due record each writes then, and per row with
// changes waiting <prefix>deferred:{deferred/s}:row:<row>, the holds of its row: id → position
// and first deferral. All of a shard share one Redis Cluster slot, so one script writes them.

// Deferral is the next attempt of a deferred change, as the store keeps it.
type Deferral struct {
	ID     string    // the change's DeferralID
	Row    string    // the changed row: the shard it waits in
	At     time.Time // when the attempt is due
	Record []byte    // the due record written to the timers topic then
	// First marks a change's first deferral, which holds the change's row. A first deferral
	// keeps an entry already stored under its id: a batch replayed after an abort does not
	// start the wait over. A later attempt keeps the hold as it is: one released meanwhile
	// (the change went out by another path) is not made again.
	First bool
	Hold  Hold // the change's place in the order of its row
}

// Hold is a deferred change in the order of its row: later changes of the row wait behind it.
type Hold struct {
	ID       string
	Position int64     // its place among the row's changes (the source LSN)
	Since    time.Time // its first deferral
}

// Release ends a change's hold on its row: its events are out, or it was dead-lettered.
type Release struct {
	ID  string
	Row string
}

// deferredSlot is the hash tag of a shard of deferred changes.
func deferredSlot(shard int) string { return "{deferred/" + strconv.Itoa(shard) + "}" }

func (s *Store) deferredKey(shard int) string { return s.prefix + "deferred:" + deferredSlot(shard) }
func (s *Store) recordsKey(shard int) string  { return s.deferredKey(shard) + ":records" }
func (s *Store) holdsKey(row string) string   { return s.deferredKey(Shard(row)) + ":row:" + row }

var (
	// deferScript stores the next attempts of deferred changes of one shard and, at a change's
	// first deferral, its hold. KEYS: deferred, records, then per change the holds of its row.
	// ARGV: hold TTL (ms), then per change: id, due (µs), record, first ("1"/"0"), hold. One
	// call per shard and batch: a call per change costs Redis several times the work of the
	// commands themselves.
	deferScript = redis.NewScript(`
local k = 2
for i = 2, #ARGV, 5 do
  k = k + 1
  local id = ARGV[i]
  local store = true
  if ARGV[i+3] == '1' then
    if redis.call('HEXISTS', KEYS[2], id) == 1 then
      store = false
    else
      local holds = KEYS[k]
      redis.call('HSETNX', holds, id, ARGV[i+4])
      redis.call('PEXPIRE', holds, ARGV[1])
    end
  end
  if store then
    redis.call('ZADD', KEYS[1], ARGV[i+1], id)
    redis.call('HSET', KEYS[2], id, ARGV[i+2])
  end
end
return 1`)

	// takeScript removes the attempts whose due records are written, unless an attempt has
	// meanwhile been stored again under its id. KEYS: deferred, records. ARGV: due, id, due, …
	takeScript = redis.NewScript(`
for i = 1, #ARGV, 2 do
  local at = redis.call('ZSCORE', KEYS[1], ARGV[i+1])
  if at and tonumber(at) == tonumber(ARGV[i]) then
    redis.call('ZREM', KEYS[1], ARGV[i+1])
    redis.call('HDEL', KEYS[2], ARGV[i+1])
  end
end
return #ARGV / 2`)
)

// Defer stores deferred changes' next attempts and their holds, and releases holds, in one
// pipeline. holdTTL bounds how long a row's holds are kept after the last one is stored.
func (s *Store) Defer(ctx context.Context, deferrals []Deferral, releases []Release, holdTTL time.Duration) error {
	if len(deferrals)+len(releases) == 0 {
		return nil
	}
	ttl := strconv.FormatInt(holdTTL.Milliseconds(), 10)
	type call struct {
		keys []string
		args []any
	}
	var calls []*call
	byShard := map[int]*call{}
	for _, d := range deferrals {
		shard := Shard(d.Row)
		c := byShard[shard]
		if c == nil {
			c = &call{keys: []string{s.deferredKey(shard), s.recordsKey(shard)}, args: []any{ttl}}
			byShard[shard] = c
			calls = append(calls, c)
		}
		first := "0"
		if d.First {
			first = "1"
		}
		c.keys = append(c.keys, s.holdsKey(d.Row))
		c.args = append(c.args, d.ID, score(d.At), d.Record, first, holdValue(d.Hold))
	}
	_, err := s.pipeline(ctx, func(pipe redis.Pipeliner) {
		for _, c := range calls {
			deferScript.EvalSha(ctx, pipe, c.keys, c.args...)
		}
		for _, r := range releases {
			pipe.HDel(ctx, s.holdsKey(r.Row), r.ID)
		}
	})
	if err != nil {
		return fmt.Errorf("store %d deferred changes and %d releases: %w", len(deferrals), len(releases), err)
	}
	return nil
}

// holdValue is how a hold is stored: position and first deferral (µs), space-separated.
func holdValue(h Hold) string {
	return strconv.FormatInt(h.Position, 10) + " " + score(h.Since)
}

// Holds returns the holds of the rows, by row.
func (s *Store) Holds(ctx context.Context, rows []string) (map[string][]Hold, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(rows))
	for i, row := range rows {
		cmds[i] = pipe.HGetAll(ctx, s.holdsKey(row))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("holds of %d rows: %w", len(rows), err)
	}
	out := map[string][]Hold{}
	for i, cmd := range cmds {
		for id, v := range cmd.Val() {
			pos, since, ok := strings.Cut(v, " ")
			p, err1 := strconv.ParseInt(pos, 10, 64)
			us, err2 := strconv.ParseInt(since, 10, 64)
			if !ok || err1 != nil || err2 != nil {
				return nil, fmt.Errorf("hold %s of row %s: malformed %q", id, rows[i], v)
			}
			out[rows[i]] = append(out[rows[i]], Hold{ID: id, Position: p, Since: time.UnixMicro(us).UTC()})
		}
	}
	return out, nil
}

// dueDeferral is an attempt of a deferred change found due by a scan.
type dueDeferral struct {
	shard  int
	id     string
	at     time.Time
	record []byte // nil when the record is gone (removed between the two reads of a scan)
}

// scanDeferred finds up to limit attempts of deferred changes due at now in the shards, earliest
// first within a shard, with their due records.
func (s *Store) scanDeferred(ctx context.Context, now time.Time, shards []int, limit int) ([]dueDeferral, error) {
	if len(shards) == 0 || limit <= 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	ranges := make([]*redis.ZSliceCmd, len(shards))
	for i, shard := range shards {
		ranges[i] = pipe.ZRangeByScoreWithScores(ctx, s.deferredKey(shard),
			&redis.ZRangeBy{Min: "-inf", Max: score(now), Count: int64(limit)})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("scan %d shards of deferred changes: %w", len(shards), err)
	}
	var found []dueDeferral
	for i, cmd := range ranges {
		for _, z := range cmd.Val() {
			if len(found) == limit {
				break
			}
			found = append(found, dueDeferral{shard: shards[i], id: z.Member.(string), at: time.UnixMicro(int64(z.Score)).UTC()})
		}
	}
	if len(found) == 0 {
		return nil, nil
	}
	pipe = s.rdb.Pipeline()
	records := make([]*redis.StringCmd, len(found))
	for i, d := range found {
		records[i] = pipe.HGet(ctx, s.recordsKey(d.shard), d.id)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("records of %d deferred changes: %w", len(found), err)
	}
	for i := range found {
		if b, err := records[i].Bytes(); err == nil {
			found[i].record = b
		}
	}
	return found, nil
}

// takeDeferred removes the attempts whose due records are written, each unless it was stored
// again meanwhile (a later attempt under the same id).
func (s *Store) takeDeferred(ctx context.Context, taken []dueDeferral) error {
	if len(taken) == 0 {
		return nil
	}
	byShard := map[int][]any{}
	var shards []int
	for _, d := range taken {
		if _, ok := byShard[d.shard]; !ok {
			shards = append(shards, d.shard)
		}
		byShard[d.shard] = append(byShard[d.shard], score(d.at), d.id)
	}
	_, err := s.pipeline(ctx, func(pipe redis.Pipeliner) {
		for _, shard := range shards {
			takeScript.EvalSha(ctx, pipe, []string{s.deferredKey(shard), s.recordsKey(shard)}, byShard[shard]...)
		}
	})
	if err != nil {
		return fmt.Errorf("remove %d due deferred changes: %w", len(taken), err)
	}
	return nil
}

// PendingDeferral returns when a deferred change's next attempt is due, and false when none is
// stored under the id.
func (s *Store) PendingDeferral(ctx context.Context, row, id string) (time.Time, bool, error) {
	us, err := s.rdb.ZScore(ctx, s.deferredKey(Shard(row)), id).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("deferred change %s: %w", id, err)
	}
	return time.UnixMicro(int64(us)).UTC(), true, nil
}
