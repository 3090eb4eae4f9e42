package schemas

import (
	"math"
	"testing"
)

// TestDecimalLikeRat checks that a Decimal encodes, renders and is refused exactly as the
// *big.Rat of the same number, on both sides of the machine-word path.
func TestDecimalLikeRat(t *testing.T) {
	c := fixtureCodec(t)
	for _, d := range []Decimal{
		{0, 0}, {0, 30}, {0, -5}, {-0, 3},
		{125, 1}, {-25, 2}, {1250000000, 10}, {-1, 8}, {7, -3},
		{12345678912345678, 8}, {-9223372036854775807, 8}, {math.MinInt64, 8}, {math.MinInt64, 0},
		{math.MaxInt64, 0}, {math.MaxInt64, -19}, {99999999999999999, -21}, {1, -30}, {1, -37}, {1, -38},
		{1123456789, 9}, {1, 9}, {-10, 9}, {1000000000000000000, 27}, {5, 27}, {3, 1000}, {3, -1000},
	} {
		r := d.Rat()
		er, ed := customerRegistered(), customerRegistered()
		er.Data["balance"], ed.Data["balance"] = r, d
		wantBin, wantErr := c.Append(nil, er)
		gotBin, gotErr := c.Append(nil, ed)
		if errText(gotErr) != errText(wantErr) || string(gotBin) != string(wantBin) {
			t.Errorf("%+v (%s): Append gave %x, %v; the *big.Rat gave %x, %v", d, r.RatString(), gotBin, gotErr, wantBin, wantErr)
		}
		wantJSON, wantErr := c.AppendJSON(nil, er, "")
		gotJSON, gotErr := c.AppendJSON(nil, ed, "")
		if errText(gotErr) != errText(wantErr) || string(gotJSON) != string(wantJSON) {
			t.Errorf("%+v: AppendJSON gave %s, %v; the *big.Rat gave %s, %v", d, gotJSON, gotErr, wantJSON, wantErr)
		}
	}

	// decimal(10,2): the precision check on the machine-word path.
	for _, d := range []Decimal{{9999999999, 2}, {10000000000, 2}, {100000000, 0}, {-1234567895, 1}, {99999999990, 3}} {
		er, ed := transactionRegistered(), transactionRegistered()
		er.Data["items"].([]any)[1].(map[string]any)["quantity"] = d.Rat()
		ed.Data["items"].([]any)[1].(map[string]any)["quantity"] = d
		wantBin, wantErr := c.Append(nil, er)
		gotBin, gotErr := c.Append(nil, ed)
		if errText(gotErr) != errText(wantErr) || string(gotBin) != string(wantBin) {
			t.Errorf("%+v: Append gave %x, %v; the *big.Rat gave %x, %v", d, gotBin, gotErr, wantBin, wantErr)
		}
	}
}

func TestDecimalScaleBound(t *testing.T) {
	c := fixtureCodec(t)
	e := customerRegistered()
	e.Data["balance"] = Decimal{Unscaled: 1, Scale: math.MaxInt32}
	want := "data.CustomerRegistered.balance: Decimal scale 2147483647 is beyond ±1000"
	if _, err := c.Append(nil, e); errText(err) != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestDecimalRat(t *testing.T) {
	for d, want := range map[Decimal]string{
		{125, 1}: "25/2", {-5, 0}: "-5", {7, -3}: "7000", {0, 4}: "0", {1, 20}: "1/100000000000000000000",
	} {
		if got := d.Rat(); got.RatString() != want {
			t.Errorf("%+v.Rat() = %s, want %s", d, got.RatString(), want)
		}
	}
}

// TestEncodeDecimalAllocations: a Decimal that fits costs the encoder nothing.
func TestEncodeDecimalAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	c := fixtureCodec(t)
	e := customerRegistered()
	e.Data["balance"] = Decimal{Unscaled: -12345, Scale: 2}
	buf := make([]byte, 0, 1024)
	if allocs := testing.AllocsPerRun(100, func() {
		if _, err := c.Append(buf[:0], e); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("%v allocations per event, want 0", allocs)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
