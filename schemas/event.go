package schemas

import "time"

// Event is one WebhookEvent in plain Go values, before Avro encoding and after decoding.
//
// Data follows the trigger's record in schemas/triggers/<EventName>.avsc with these plain
// values: nil for null; string; bool; int64 for int and long; *big.Rat for decimals;
// time.Time (UTC) for timestamps and dates; map[string]any for records (a missing field is
// null); []any for arrays. The codec wraps unions and converts logical types itself. A date
// is the calendar date of the time.Time in its own location. Decoded records leave their null
// fields out, and a key that is not a field of its record is an error, not ignored.
type Event struct {
	MessageID string
	EventName string
	StoreCode string // "" when the tenant is not known; encoded as null
	CreatedAt time.Time
	Data      map[string]any
	Source    Source
}

// Source locates the change an event came from.
type Source struct {
	Topic     string
	Partition int32
	Offset    int64
	Table     string
	Op        string
	LSN       int64 // 0 when not known; encoded as null
	TxID      int64 // 0 when not known; encoded as null
}
