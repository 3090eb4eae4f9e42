package schemas

import (
	"math/big"
	"time"
)

// Event is one WebhookEvent in plain Go values, before Avro encoding and after decoding.
//
// Data follows the trigger's record in schemas/triggers/<EventName>.avsc with these plain
// values: nil for null; string; bool; int64 for int and long; *big.Rat for decimals, or
// Decimal when the number fits it; time.Time (UTC) for timestamps and dates; map[string]any
// for records (a missing field is null); []any for arrays. The codec wraps unions and converts
// logical types itself. A date is the calendar date of the time.Time in its own location.
// Decoded events give decimals as *big.Rat. Decoded records leave their null fields out, and
// a key that is not a field of its record is an error, not ignored.
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

// Decimal is an exact decimal number, Unscaled × 10^-Scale: a decimal field's value without the
// allocations of a *big.Rat, for the numbers that fit it. The codec treats it as the *big.Rat of
// the same number, never rounding: one with more fractional digits than the field's scale
// (trailing zeros aside) or more digits than its precision is refused. Scale is at most
// ±1000, the largest scale a decimal schema may have.
type Decimal struct {
	Unscaled int64
	Scale    int32
}

// Rat returns d as a *big.Rat.
func (d Decimal) Rat() *big.Rat {
	n, scale := big.NewInt(d.Unscaled), int64(d.Scale)
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(max(scale, -scale)), nil)
	if scale < 0 {
		return new(big.Rat).SetInt(n.Mul(n, p))
	}
	return new(big.Rat).SetFrac(n, p)
}
