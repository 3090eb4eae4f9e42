package timer

import (
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Shards is the fixed number of timer shards. It is part of the stored layout: changing it
// would leave scheduled timers in shards nobody computes any more. It bounds the useful
// partition count of the timers topic (partitions beyond it own no shard).
const Shards = 64

// Timer is one expiry timer: the entity of a tenant whose expiry a trigger watches. A zero At
// in a write cancels the timer.
type Timer struct {
	Tenant  string
	Trigger string
	Entity  string    // primary-key text of the entity row
	At      time.Time // the expiry
}

// Shard is the timer shard of an entity id.
func Shard(entity string) int {
	h := fnv.New32a()
	h.Write([]byte(entity))
	return int(h.Sum32() % Shards)
}

// Set names one sorted set of timers.
type Set struct {
	Tenant  string
	Trigger string
	Shard   int
}

// SetOf returns the set a timer lives in.
func SetOf(t Timer) Set { return Set{Tenant: t.Tenant, Trigger: t.Trigger, Shard: Shard(t.Entity)} }

// OwnedShards returns the shards that the owner of the given partitions of a topic with
// partitions partitions scans: those s with s mod partitions among them.
func OwnedShards(owned []int32, partitions int) []int {
	if partitions <= 0 {
		return nil
	}
	mine := make(map[int]bool, len(owned))
	for _, p := range owned {
		mine[int(p)] = true
	}
	var out []int
	for s := range Shards {
		if mine[s%partitions] {
			out = append(out, s)
		}
	}
	return out
}

// slot is the hash tag of a set: the timers and the fired marks of one set live in the same
// Redis Cluster slot, so one script can read and write both.
func (s Set) slot() string {
	return "{" + s.Tenant + "/" + s.Trigger + "/" + strconv.Itoa(s.Shard) + "}"
}

// score is how an instant is stored: Unix microseconds, exact in a float64 for any date before
// the year 2255, and the precision of PostgreSQL timestamps.
func score(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

// member is how an entity id is stored in a set. The ids of the reference schema are UUIDs,
// stored as their 16 bytes rather than 36 characters of text. Any other id is stored as its
// text behind a NUL byte (two when that would make 16 bytes), which no UUID's canonical text
// and no printable id starts with, so the two forms never meet.
func member(entity string) string {
	if len(entity) == 36 {
		if u, err := uuid.Parse(entity); err == nil && u.String() == entity {
			return string(u[:])
		}
	}
	if len(entity) == 15 {
		return "\x00\x00" + entity
	}
	return "\x00" + entity
}

// entityOf reverses member.
func entityOf(m string) string {
	if len(m) == 16 {
		var u uuid.UUID
		copy(u[:], m)
		return u.String()
	}
	return strings.TrimLeft(m, "\x00")
}
