package timer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Store keeps timers in Redis. Per set there are two sorted sets of entity ids scored by expiry:
// <prefix>timer:{tenant/trigger/shard}, the timers waiting, and <prefix>fired:{…}, the expiries
// that already came due, kept until they pass so that the same expiry never fires twice.
// <prefix>timer:tenants lists the tenants that have timers, so a scan knows which sets exist.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewStore returns a store on rdb whose keys start with prefix.
func NewStore(rdb redis.UniversalClient, prefix string) *Store {
	return &Store{rdb: rdb, prefix: prefix}
}

func (s *Store) timersKey(set Set) string { return s.prefix + "timer:" + set.slot() }
func (s *Store) firedKey(set Set) string  { return s.prefix + "fired:" + set.slot() }
func (s *Store) tenantsKey() string       { return s.prefix + "timer:tenants" }

// The scripts keep a step atomic per set where a timer may move meanwhile. Scores are compared
// as numbers: Redis may print a score differently from how it was written.
var (
	// dropExpired removes up to limit timers whose expiry is at or before now: a timer never
	// fires after its expiry. KEYS: timers. ARGV: now, limit.
	dropExpiredScript = redis.NewScript(`
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #gone > 0 then redis.call('ZREM', KEYS[1], unpack(gone)) end
return #gone`)

	// fire marks expiries of one set as come due and removes their timers, unless a timer has
	// meanwhile moved to another expiry. KEYS: timers, fired. ARGV: expiry, member, expiry, …
	fireScript = redis.NewScript(`
for i = 1, #ARGV, 2 do
  local at = redis.call('ZSCORE', KEYS[1], ARGV[i+1])
  if at and tonumber(at) == tonumber(ARGV[i]) then redis.call('ZREM', KEYS[1], ARGV[i+1]) end
  redis.call('ZADD', KEYS[2], ARGV[i], ARGV[i+1])
end
return #ARGV / 2`)

	scripts = []*redis.Script{dropExpiredScript, fireScript, deferScript, takeScript}
)

// Write schedules, moves and cancels timers (a zero At cancels) in one pipeline of plain
// commands: changes are many, and scheduling an expiry that already came due is harmless, as
// the scan drops it.
func (s *Store) Write(ctx context.Context, timers []Timer) error {
	if len(timers) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	tenants := map[string]bool{}
	for _, t := range timers {
		key := s.timersKey(SetOf(t))
		if t.At.IsZero() {
			pipe.ZRem(ctx, key, member(t.Entity))
			continue
		}
		pipe.ZAdd(ctx, key, redis.Z{Score: float64(t.At.UnixMicro()), Member: member(t.Entity)})
		if !tenants[t.Tenant] {
			tenants[t.Tenant] = true
			pipe.SAdd(ctx, s.tenantsKey(), t.Tenant)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("write %d timers: %w", len(timers), err)
	}
	return nil
}

// Tenants returns the tenants that have ever had a timer.
func (s *Store) Tenants(ctx context.Context) ([]string, error) {
	ts, err := s.rdb.SMembers(ctx, s.tenantsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("timer tenants: %w", err)
	}
	return ts, nil
}

// Scan asks for the timers of one set due by Horizon.
type Scan struct {
	Set     Set
	Horizon time.Time
}

// scanChunk is how many sets one round trip scans: enough to keep round trips few, few enough
// that a tick whose budget fills early does not scan every set.
const scanChunk = 64

// ScanResult is what a scan found.
type ScanResult struct {
	Due     []Timer        // timers due, at most the limit
	Expired map[string]int // timers dropped unfired because their expiry passed, per trigger
}

// Scan finds up to limit timers due at now across the sets, in their order. On the way it drops
// the timers whose expiry is at or before now, those whose expiry already came due (scheduled
// again by a later change of the same row), and the fired marks whose expiry has passed since
// the last scan. The work is bounded: no set returns or drops more than limit timers, and the
// scan stops once limit timers are found.
func (s *Store) Scan(ctx context.Context, now time.Time, scans []Scan, limit int) (ScanResult, error) {
	res := ScanResult{Expired: map[string]int{}}
	var found []Timer
	var expired []Set
	for start := 0; start < len(scans) && len(found) < limit; start += scanChunk {
		chunk := scans[start:min(start+scanChunk, len(scans))]
		pipe := s.rdb.Pipeline()
		ranges := make([]*redis.ZSliceCmd, len(chunk))
		for i, sc := range chunk {
			ranges[i] = pipe.ZRangeByScoreWithScores(ctx, s.timersKey(sc.Set),
				&redis.ZRangeBy{Min: "-inf", Max: score(sc.Horizon), Count: int64(limit - len(found))})
			pipe.ZRemRangeByScore(ctx, s.firedKey(sc.Set), "-inf", score(now))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return res, fmt.Errorf("scan %d timer sets: %w", len(chunk), err)
		}
		for i, cmd := range ranges {
			set, late := chunk[i].Set, false
			for _, z := range cmd.Val() {
				t := Timer{Tenant: set.Tenant, Trigger: set.Trigger, Entity: entityOf(z.Member.(string)), At: time.UnixMicro(int64(z.Score)).UTC()}
				switch {
				case !t.At.After(now):
					late = true
				case len(found) < limit:
					found = append(found, t)
				}
			}
			if late {
				expired = append(expired, set)
			}
		}
	}
	if err := s.dropExpired(ctx, now, expired, limit, res.Expired); err != nil {
		return res, err
	}
	due, err := s.dropRepeats(ctx, found)
	res.Due = due
	return res, err
}

// dropExpired removes the timers of the sets whose expiry passed before they came due, counting
// them per trigger.
func (s *Store) dropExpired(ctx context.Context, now time.Time, sets []Set, limit int, count map[string]int) error {
	if len(sets) == 0 {
		return nil
	}
	cmds, err := s.pipeline(ctx, func(pipe redis.Pipeliner) {
		for _, set := range sets {
			dropExpiredScript.EvalSha(ctx, pipe, []string{s.timersKey(set)}, score(now), strconv.Itoa(limit))
		}
	})
	if err != nil {
		return fmt.Errorf("drop expired timers of %d sets: %w", len(sets), err)
	}
	for i, cmd := range cmds {
		n, _ := cmd.(*redis.Cmd).Int()
		count[sets[i].Trigger] += n
	}
	return nil
}

// dropRepeats returns the timers found due whose expiry has not come due before, and removes the
// others: a change of the row after its timer fired scheduled the same expiry again.
func (s *Store) dropRepeats(ctx context.Context, found []Timer) ([]Timer, error) {
	if len(found) == 0 {
		return nil, nil
	}
	sets, bySet := groupBySet(found)
	pipe := s.rdb.Pipeline()
	marks := make([]*redis.FloatSliceCmd, len(sets))
	for i, set := range sets {
		members := make([]string, len(bySet[set]))
		for j, t := range bySet[set] {
			members[j] = member(t.Entity)
		}
		marks[i] = pipe.ZMScore(ctx, s.firedKey(set), members...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("fired marks of %d timers: %w", len(found), err)
	}
	repeated := map[Timer]bool{}
	for i, set := range sets {
		for j, at := range marks[i].Val() {
			if t := bySet[set][j]; int64(at) == t.At.UnixMicro() {
				repeated[t] = true
			}
		}
	}
	if len(repeated) == 0 {
		return found, nil
	}
	var due, repeats []Timer
	for _, t := range found {
		if repeated[t] {
			repeats = append(repeats, t)
		} else {
			due = append(due, t)
		}
	}
	return due, s.Fired(ctx, repeats)
}

// Fired records that the timers came due, whose due records are written: each timer is removed
// (unless it has meanwhile moved to another expiry) and its expiry marked as come due, so that
// scheduling it again has no effect.
func (s *Store) Fired(ctx context.Context, timers []Timer) error {
	if len(timers) == 0 {
		return nil
	}
	sets, bySet := groupBySet(timers)
	_, err := s.pipeline(ctx, func(pipe redis.Pipeliner) {
		for _, set := range sets {
			args := make([]any, 0, 2*len(bySet[set]))
			for _, t := range bySet[set] {
				args = append(args, score(t.At), member(t.Entity))
			}
			fireScript.EvalSha(ctx, pipe, []string{s.timersKey(set), s.firedKey(set)}, args...)
		}
	})
	if err != nil {
		return fmt.Errorf("remove %d fired timers: %w", len(timers), err)
	}
	return nil
}

// groupBySet groups timers by their set, the sets in order of first appearance.
func groupBySet(timers []Timer) ([]Set, map[Set][]Timer) {
	var sets []Set
	bySet := map[Set][]Timer{}
	for _, t := range timers {
		set := SetOf(t)
		if _, ok := bySet[set]; !ok {
			sets = append(sets, set)
		}
		bySet[set] = append(bySet[set], t)
	}
	return sets, bySet
}

// Pending returns the expiry a timer waits for, and false when no timer is scheduled.
func (s *Store) Pending(ctx context.Context, tenant, trigger, entity string) (time.Time, bool, error) {
	set := SetOf(Timer{Tenant: tenant, Trigger: trigger, Entity: entity})
	us, err := s.rdb.ZScore(ctx, s.timersKey(set), member(entity)).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("timer %s/%s: %w", trigger, entity, err)
	}
	return time.UnixMicro(int64(us)).UTC(), true, nil
}

// pipeline runs the commands build adds in one pipeline. Scripts run by their hash; when Redis
// does not know one (first use, a restart, a failover) all are loaded and the pipeline runs once
// more, which is safe because every command here is idempotent.
func (s *Store) pipeline(ctx context.Context, build func(redis.Pipeliner)) ([]redis.Cmder, error) {
	for attempt := 0; ; attempt++ {
		pipe := s.rdb.Pipeline()
		build(pipe)
		cmds, err := pipe.Exec(ctx)
		if err == nil {
			return cmds, nil
		}
		if attempt > 0 || !noScript(cmds) {
			return nil, firstError(cmds, err)
		}
		for _, sc := range scripts {
			if err := sc.Load(ctx, s.rdb).Err(); err != nil {
				return nil, fmt.Errorf("load timer script: %w", err)
			}
		}
	}
}

func noScript(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		if redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			return true
		}
	}
	return false
}

// firstError is the first command's error, which says more than the pipeline's.
func firstError(cmds []redis.Cmder, err error) error {
	for _, c := range cmds {
		if c.Err() != nil {
			return c.Err()
		}
	}
	return err
}
