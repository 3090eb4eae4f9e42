package schemas

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// FieldError says which value of an event does not fit the schema. Path names the field from
// the top of the event, e.g. data.CustomerRegistered.customerData.email or
// data.TransactionRegistered.items[2].grossValue.
type FieldError struct {
	Path string
	Err  error
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

// atField puts seg in front of the path of err.
func atField(seg string, err error) error {
	if fe, ok := err.(*FieldError); ok {
		fe.Path = joinPath(seg, fe.Path)
		return fe
	}
	return &FieldError{Path: seg, Err: err}
}

func atIndex(i int, err error) error { return atField("["+strconv.Itoa(i)+"]", err) }

func joinPath(parent, child string) string {
	switch {
	case parent == "":
		return child
	case child == "", strings.HasPrefix(child, "["):
		return parent + child
	}
	return parent + "." + child
}

// The value helpers below check a plain value against its type; the binary encoder and the
// JSON rendering share them so both accept and refuse the same events.

// plainTypes names the Go type of each kind's plain value.
var plainTypes = [...]string{
	kindNull: "null", kindBoolean: "bool", kindInt: "int64", kindLong: "int64",
	kindString: "string", kindUUID: "string", kindEnum: "string", kindDecimal: "*big.Rat",
	kindTimestampMillis: "time.Time", kindTimestampMicros: "time.Time", kindDate: "time.Time",
	kindRecord: "map[string]any", kindArray: "[]any", kindUnion: "a union value",
}

// mismatch is the error for a value of the wrong Go type.
func (t *avroType) mismatch(v any) error {
	got := "null"
	if v != nil {
		got = fmt.Sprintf("%T", v)
	}
	return fmt.Errorf("want %s, got %s", plainTypes[t.kind], got)
}

func (t *avroType) integer(v any) (int64, error) {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case int:
		n = int64(x)
	case int32:
		n = int64(x)
	default:
		return 0, t.mismatch(v)
	}
	if t.kind == kindInt && (n < math.MinInt32 || n > math.MaxInt32) {
		return 0, fmt.Errorf("%d does not fit an int", n)
	}
	return n, nil
}

// text returns a string, uuid or enum value, and for an enum the symbol's index.
func (t *avroType) text(v any) (string, int, error) {
	s, ok := v.(string)
	if !ok {
		return "", 0, t.mismatch(v)
	}
	switch t.kind {
	case kindUUID:
		if err := checkUUID(s); err != nil {
			return "", 0, err
		}
	case kindEnum:
		i, ok := t.symbolIndex[s]
		if !ok {
			return "", 0, fmt.Errorf("%q is not a symbol of %s %v", s, t.name, t.symbols)
		}
		return s, i, nil
	}
	return s, 0, nil
}

// checkUUID accepts the 36-character form of a UUID, the one the uuid logical type allows.
func checkUUID(s string) error {
	if len(s) != 36 || uuid.Validate(s) != nil {
		return fmt.Errorf("%q is not a UUID", s)
	}
	return nil
}

func (t *avroType) time(v any) (time.Time, error) {
	tm, ok := v.(time.Time)
	if !ok {
		return time.Time{}, t.mismatch(v)
	}
	return tm, nil
}

// days is the Avro date of tm: days since 1970-01-01 of tm's calendar date.
func days(tm time.Time) int64 {
	y, m, d := tm.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// unscaled is a decimal's value times 10^scale: small when it fits an int64, else large.
type unscaled struct {
	small int64
	large *big.Int
}

// decimal checks a decimal value (a *big.Rat or a Decimal) against the type's scale and
// precision, never rounding.
func (t *avroType) decimal(v any) (unscaled, error) {
	switch x := v.(type) {
	case Decimal:
		if x.Scale < -maxDecimalDigits || x.Scale > maxDecimalDigits {
			return unscaled{}, fmt.Errorf("Decimal scale %d is beyond ±%d", x.Scale, maxDecimalDigits)
		}
		if u, ok, err := t.decimalFixed(x); ok || err != nil {
			return u, err
		}
		return t.decimalRat(x.Rat())
	case *big.Rat:
		if x != nil {
			return t.decimalRat(x)
		}
	}
	return unscaled{}, t.mismatch(v)
}

// pow10s are the powers of ten that fit an int64.
var pow10s = func() (p [19]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// decimalFixed is decimal for a Decimal, in machine words. ok is false when rescaling it to
// the type's scale does not fit them; the caller then takes the *big.Rat path.
func (t *avroType) decimalFixed(d Decimal) (u unscaled, ok bool, err error) {
	if d.Unscaled == math.MinInt64 {
		return unscaled{}, false, nil // its magnitude does not fit
	}
	mag := uint64(d.Unscaled)
	if d.Unscaled < 0 {
		mag = -mag
	}
	var q uint64
	switch shift := int64(t.scale) - int64(d.Scale); {
	case shift >= 0:
		if shift >= int64(len(pow10s)) {
			return unscaled{}, false, nil
		}
		hi, lo := bits.Mul64(mag, pow10s[shift])
		if hi != 0 || lo > math.MaxInt64 {
			return unscaled{}, false, nil
		}
		q = lo
	case -shift < int64(len(pow10s)):
		// More fractional digits than the scale: exact only when the extra ones are zeros.
		p := pow10s[-shift]
		if mag%p != 0 {
			return unscaled{}, true, t.overScale(d.Rat())
		}
		q = mag / p
	default:
		return unscaled{}, false, nil
	}
	if t.limitSmall != 0 && q >= t.limitSmall {
		return unscaled{}, true, t.overPrecision(d.Rat())
	}
	if d.Unscaled < 0 {
		return unscaled{small: -int64(q)}, true, nil
	}
	return unscaled{small: int64(q)}, true, nil
}

// decimalRat is decimal for a *big.Rat.
func (t *avroType) decimalRat(r *big.Rat) (unscaled, error) {
	if u, ok, err := t.decimalSmall(r); ok || err != nil {
		return u, err
	}
	q, m := new(big.Int).QuoRem(new(big.Int).Mul(r.Num(), t.pow10), r.Denom(), new(big.Int))
	if m.Sign() != 0 {
		return unscaled{}, t.overScale(r)
	}
	if new(big.Int).Abs(q).Cmp(t.limit) >= 0 {
		return unscaled{}, t.overPrecision(r)
	}
	if q.IsInt64() {
		return unscaled{small: q.Int64()}, nil
	}
	return unscaled{large: q}, nil
}

// decimalSmall is decimal without allocating, for values whose numerator, denominator and
// result fit 64 bits: nearly all amounts. ok is false when it cannot tell.
func (t *avroType) decimalSmall(r *big.Rat) (u unscaled, ok bool, err error) {
	num, den := r.Num(), r.Denom()
	if t.pow10Small == 0 || !num.IsInt64() || !den.IsUint64() {
		return unscaled{}, false, nil
	}
	n := num.Int64()
	mag := uint64(n)
	if n < 0 {
		mag = -mag
	}
	hi, lo := bits.Mul64(mag, t.pow10Small)
	d := den.Uint64()
	if hi >= d {
		return unscaled{}, false, nil // the quotient needs more than 64 bits
	}
	q, rem := bits.Div64(hi, lo, d)
	if rem != 0 {
		return unscaled{}, true, t.overScale(r)
	}
	if q > math.MaxInt64 {
		return unscaled{}, false, nil
	}
	if t.limitSmall != 0 && q >= t.limitSmall {
		return unscaled{}, true, t.overPrecision(r)
	}
	if n < 0 {
		return unscaled{small: -int64(q)}, true, nil
	}
	return unscaled{small: int64(q)}, true, nil
}

func (t *avroType) overScale(r *big.Rat) error {
	return fmt.Errorf("%s has more than %d fractional digits (decimal(%d,%d)); it is not rounded",
		ratText(r), t.scale, t.precision, t.scale)
}

func (t *avroType) overPrecision(r *big.Rat) error {
	return fmt.Errorf("%s has more than %d digits (decimal(%d,%d))", ratText(r), t.precision, t.precision, t.scale)
}

// ratText writes r exactly: as a decimal when it has a finite expansion, else as a fraction.
func ratText(r *big.Rat) string {
	d := new(big.Int).Set(r.Denom())
	digits := 0
	for _, p := range []int64{2, 5} {
		n, m, bp := 0, new(big.Int), big.NewInt(p)
		for {
			q, rem := new(big.Int).QuoRem(d, bp, m)
			if rem.Sign() != 0 {
				break
			}
			d, n = q, n+1
		}
		digits = max(digits, n)
	}
	if d.Cmp(big.NewInt(1)) != 0 {
		return r.RatString()
	}
	return r.FloatString(digits)
}

// appendDecimalText writes u / 10^scale with as few digits as the exact value needs:
// 12.5, 100, -0.25.
func appendDecimalText(dst []byte, u unscaled, scale int) []byte {
	var buf [24]byte
	var digits []byte
	neg := false
	if u.large != nil {
		neg = u.large.Sign() < 0
		digits = new(big.Int).Abs(u.large).Append(nil, 10)
	} else {
		mag := uint64(u.small)
		if u.small < 0 {
			neg, mag = true, -mag
		}
		digits = strconv.AppendUint(buf[:0], mag, 10)
	}
	if neg {
		dst = append(dst, '-')
	}
	whole := len(digits) - scale
	if whole <= 0 {
		dst = append(dst, '0')
	} else {
		dst = append(dst, digits[:whole]...)
	}
	frac := digits[max(whole, 0):]
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if len(frac) == 0 {
		return dst
	}
	dst = append(dst, '.')
	for range -whole {
		dst = append(dst, '0')
	}
	return append(dst, frac...)
}

// unknownField is the error for keys of m that are not fields of the record, so a misspelt
// key fails instead of leaving its field null.
func (t *avroType) unknownField(m map[string]any) error {
	var unknown []string
	for k := range m {
		if _, ok := t.fieldIndex[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	return &FieldError{Path: unknown[0], Err: fmt.Errorf("not a field of %s", t.name)}
}

var (
	// errNoTrigger is returned for an event whose name is not one of the schema's triggers.
	errNoTrigger = errors.New("not a trigger of the schema")
	// errUnionWithoutNull is returned for the data union reached anywhere but at the top.
	errUnionWithoutNull = errors.New("a union without null is only supported as the event data")
)
