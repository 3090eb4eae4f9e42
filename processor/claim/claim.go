package claim

import "context"

// Claim is one event of a batch asking to be emitted: its message id and the source coordinates
// of the change it came from.
type Claim struct {
	MessageID string
	Topic     string
	Partition int32
	Offset    int64
	// Index is the caller's own reference to the event; claimers leave it alone.
	Index int
	// Emit is set by the Claimer: true to produce the event, false to drop it as a duplicate.
	Emit bool
}

// Claimer decides which events of a batch are produced. It sees every event of a batch at once
// so that an implementation can check them all in one round trip. An error is transient: the
// batch is aborted and polled again, never emitted unchecked.
type Claimer interface {
	Claim(ctx context.Context, claims []Claim) error
}

// Checker is a Claimer that can also tell, without claiming anything, which events already hold
// a claim with the very coordinates they ask with: events that an earlier attempt of the same
// record claimed in a batch that then aborted. Only that record can emit them any more, so the
// processor emits them again rather than let them wait (a change deferred on its replay).
type Checker interface {
	Claimer
	// Claimed sets Emit on the claims held by their own coordinates and clears it on the rest.
	Claimed(ctx context.Context, claims []Claim) error
}

// EmitAll is the Claimer that drops nothing: exactly-once then rests on the Kafka transaction
// alone, which covers crashes and rebalances but not Debezium redelivering a change, nor a
// change deferred for a late lookup row by a batch that aborted and then sent at once by its
// replay (both attempts go out).
type EmitAll struct{}

// Claim marks every claim to be emitted.
func (EmitAll) Claim(_ context.Context, claims []Claim) error {
	for i := range claims {
		claims[i].Emit = true
	}
	return nil
}
