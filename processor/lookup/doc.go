// Package lookup keeps the latest row of each reference table (tenant, settings, tier, member,
// reward, campaign, unit_transfer, wallet, issued_reward) in Redis, so that every processor
// instance sees the same state whatever partitions it owns, and serves them to the rules through
// a per-batch View.
// It is fed only by the processor's own reading of the change topics, snapshot rows included.
// It must never block a partition on a missing row: a miss is an answer, counted, not a wait.
package lookup
