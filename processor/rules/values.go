package rules

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
)

// The converters below turn column values into the plain values of schemas.Event.Data. Null and
// unavailable values become nil: a value that is not known is reported as null, never guessed.

// text is a string field: the value's text, whatever kind the decoder gave it.
func text(v cdc.Value) any {
	if !v.Known() {
		return nil
	}
	if v.Kind == cdc.String {
		return v.Str
	}
	return v.Text()
}

// boolean is a boolean field.
func boolean(v cdc.Value) any {
	if v.Kind != cdc.Bool {
		return nil
	}
	return v.Bool()
}

// decimal is a decimal field, exact.
func decimal(col string, v cdc.Value) (any, error) {
	switch v.Kind {
	case cdc.Null, cdc.Unavailable:
		return nil, nil
	case cdc.Int:
		return schemas.Decimal{Unscaled: v.Int}, nil
	case cdc.Decimal, cdc.String:
		d, err := decimalValue(v.Str)
		if err != nil {
			return nil, columnError(col, err)
		}
		return d, nil
	}
	return nil, columnError(col, kindError("a decimal", v))
}

// instant is a timestamp field.
func instant(col string, v cdc.Value) (any, error) {
	switch v.Kind {
	case cdc.Null, cdc.Unavailable:
		return nil, nil
	case cdc.Time, cdc.Date:
		return v.Time(), nil
	case cdc.String:
		t, err := parseTime(v.Str)
		if err != nil {
			return nil, columnError(col, err)
		}
		return t, nil
	}
	return nil, columnError(col, kindError("a timestamp", v))
}

// date is a date field: midnight UTC of the day.
func date(col string, v cdc.Value) (any, error) {
	switch v.Kind {
	case cdc.Null, cdc.Unavailable:
		return nil, nil
	case cdc.Date:
		return v.Time(), nil
	case cdc.Time:
		return v.Time().Truncate(24 * time.Hour), nil
	case cdc.String:
		t, err := time.Parse(time.DateOnly, v.Str)
		if err != nil {
			return nil, columnError(col, err)
		}
		return t, nil
	}
	return nil, columnError(col, kindError("a date", v))
}

func columnError(col string, err error) error { return fmt.Errorf("column %s: %w", col, err) }

func kindError(want string, v cdc.Value) error {
	return fmt.Errorf("want %s, got value kind %d", want, v.Kind)
}

// errNotDecimal is returned for text that is not a plain decimal number.
var errNotDecimal = errors.New("not a decimal number")

// decimalValue parses decimal text exactly into the value of a decimal field: a schemas.Decimal
// when it fits machine words, else a *big.Rat.
func decimalValue(s string) (any, error) {
	if f, ok := parseFixed(s); ok {
		return f.decimal(), nil
	}
	r, err := parseDecimal(s)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// parseDecimal parses decimal text ("-12.50", "1e-3") exactly. It accepts only that grammar,
// not the fractions, hexadecimal and NaN that big.Rat or PostgreSQL would also take.
func parseDecimal(s string) (*big.Rat, error) {
	if f, ok := parseFixed(s); ok {
		return f.rat(), nil
	}
	if _, _, _, ok := splitDecimal(s); !ok {
		return nil, fmt.Errorf("%w: %q", errNotDecimal, s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("%w: %q", errNotDecimal, s)
	}
	return r, nil
}

// splitDecimal splits decimal text into its sign, integer digits without leading zeros and
// fraction digits without trailing zeros, so equal numbers give equal parts; exp is the
// exponent text ("" for none). ok is false when s is not a decimal number.
func splitDecimal(s string) (neg bool, digits, frac string, ok bool) {
	var exp string
	if e := strings.IndexAny(s, "eE"); e >= 0 {
		s, exp = s[:e], s[e+1:]
		if exp != "" && (exp[0] == '+' || exp[0] == '-') {
			exp = exp[1:]
		}
		if !allDigits(exp) || exp == "" {
			return false, "", "", false
		}
	}
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg, s = s[0] == '-', s[1:]
	}
	digits, frac, _ = strings.Cut(s, ".")
	if digits == "" && frac == "" || !allDigits(digits) || !allDigits(frac) {
		return false, "", "", false
	}
	if exp != "" {
		// An exponent shifts digits between the parts; callers compare such values exactly
		// through big.Rat instead, so only validity matters here.
		return neg, digits, frac, true
	}
	digits = strings.TrimLeft(digits, "0")
	frac = strings.TrimRight(frac, "0")
	return neg, digits, frac, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// sameDecimal reports whether two decimal texts are the same number ("1.50" and "1.5" are).
// Text that is not a decimal is compared as text.
func sameDecimal(a, b string) bool {
	if a == b {
		return true
	}
	if strings.ContainsAny(a, "eE") || strings.ContainsAny(b, "eE") {
		x, errX := parseDecimal(a)
		y, errY := parseDecimal(b)
		return errX == nil && errY == nil && x.Cmp(y) == 0
	}
	negA, intA, fracA, okA := splitDecimal(a)
	negB, intB, fracB, okB := splitDecimal(b)
	if !okA || !okB || intA != intB || fracA != fracB {
		return false
	}
	return negA == negB || intA == "" && fracA == "" // -0 is 0
}

// same reports whether two known values are equal; decimals compare by number.
func same(v, w cdc.Value) bool {
	if v.Kind == cdc.Decimal && w.Kind == cdc.Decimal {
		return sameDecimal(v.Str, w.Str)
	}
	return v == w
}

// timeLayouts are the timestamp forms accepted inside jsonb: RFC 3339 first, then the ones
// PHP and PostgreSQL write. A form without an offset is UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	time.DateOnly,
}

// parseTime parses a timestamp text into a UTC time.
func parseTime(s string) (time.Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a timestamp: %q", s)
}

// fixed is a decimal small enough for machine words: m × 10^-scale. Amounts almost always
// are, and reading them this way avoids most of big.Rat's allocations.
type fixed struct {
	m     int64
	scale int
}

// maxFixedDigits keeps m and its rescaling by 10^scale within int64.
const maxFixedDigits = 18

var pow10 = func() (p [maxFixedDigits + 1]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// parseFixed reads plain decimal text ("-12.50", no exponent) of at most maxFixedDigits
// digits; ok is false for anything else, which parseDecimal then handles.
func parseFixed(s string) (f fixed, ok bool) {
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg, s = s[0] == '-', s[1:]
	}
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if f.m == 0 && c == '0' && !dot {
				continue // leading zeros
			}
			if digits++; digits > maxFixedDigits {
				return fixed{}, false
			}
			f.m = f.m*10 + int64(c-'0')
			if dot {
				f.scale++
			}
		case c == '.' && !dot:
			dot = true
		default:
			return fixed{}, false
		}
	}
	if s == "" || s == "." {
		return fixed{}, false
	}
	if neg {
		f.m = -f.m
	}
	return f, true
}

// sub returns f − g, and false when it does not fit.
func (f fixed) sub(g fixed) (fixed, bool) {
	for f.scale < g.scale {
		if f.m > math.MaxInt64/10 || f.m < math.MinInt64/10 {
			return fixed{}, false
		}
		f.m, f.scale = f.m*10, f.scale+1
	}
	for g.scale < f.scale {
		if g.m > math.MaxInt64/10 || g.m < math.MinInt64/10 {
			return fixed{}, false
		}
		g.m, g.scale = g.m*10, g.scale+1
	}
	d := f.m - g.m
	if (d < f.m) != (g.m > 0) { // overflow
		return fixed{}, false
	}
	return fixed{m: d, scale: f.scale}, true
}

// decimal returns f as the value of a decimal field.
func (f fixed) decimal() schemas.Decimal {
	return schemas.Decimal{Unscaled: f.m, Scale: int32(f.scale)}
}

// rat returns f as a normalized big.Rat, written through Num and Denom (which reference the
// Rat's own numerator and denominator) after reducing by hand, so no GCD of big numbers runs.
func (f fixed) rat() *big.Rat {
	m, scale := f.m, f.scale
	for scale > 0 && m%10 == 0 {
		m, scale = m/10, scale-1
	}
	d := pow10[scale]
	for _, p := range [2]int64{2, 5} {
		for d%p == 0 && m%p == 0 {
			m, d = m/p, d/p
		}
	}
	r := new(big.Rat).SetInt64(m)
	if d != 1 {
		r.Denom().SetInt64(d)
	}
	return r
}
