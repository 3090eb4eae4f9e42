// Package timer keeps the processor's timers in Redis and turns the ones that come due into
// "due" records on the timers topic, which the processor's transactional loop reads back like
// any other input. A timer is an entity id in a sorted set per tenant, trigger and shard, scored
// by the entity's expiry time, so that a change of the notification window needs no rewriting:
// a scan asks for the expiries up to now + N. Shards are a hash of the entity id over a fixed
// count, never the partition of a source topic, and the instance that owns partition p of the
// timers topic scans the shards s with s mod P = p, so ownership follows the consumer group and
// growing partitions strands nothing.
//
// The package decides when a timer is due, never whether an event goes out: the loop re-checks
// the entity against the lookups and emits through the dedup claim, so it must never emit
// anything itself, and writing a due record twice (a crash between writing it and removing the
// timer, or two owners during a rebalance) is allowed by design. It must never fire a timer whose
// expiry has passed, and never fire one twice for the same entity and expiry.
//
// A due record carries one kind of work; expiry timers are the first. Changes deferred until a
// lookup row arrives are meant to travel the same way, as another kind on the same topic.
package timer
