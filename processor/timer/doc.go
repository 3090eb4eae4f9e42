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
// A due record carries one kind of work: an expiry timer, or a change deferred until the lookup
// rows its events need arrive. Deferred changes wait in shards of their row, with a hold per
// row that keeps the row's later changes behind them; the store keeps them and the ticker writes
// them back when their next attempt is due, but whether they wait on or go out is the loop's to
// decide, as for timers.
package timer
