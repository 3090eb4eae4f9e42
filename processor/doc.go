// Package processor is the stream processor: in one Kafka transaction per batch it consumes
// Debezium change topics, decodes each change, applies the trigger rules against the lookups,
// claims each event's message id, encodes the events with Avro and produces them to the webhook
// topic, with unreadable records sent to the CDC dead-letter topic, and commits the source offsets.
// An event whose lookup rows have not arrived waits as a deferred change on the timers topic
// (deferral.go), for at most a grace period, rather than go out with nulls at once.
// It must never emit an event outside a transaction, skip a record, or let one bad record, or
// one missing lookup row, stall its partition.
package processor
