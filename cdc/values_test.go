package cdc

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestCanonicalDecimal(t *testing.T) {
	for in, want := range map[string]string{
		"12.50": "12.5", "-12.50": "-12.5", "+7": "7", "0007": "7", "-0007.10": "-7.1", "100": "100",
		"100.000": "100", "0": "0", "-0": "0", "-0.000": "0", "0.001": "0.001", ".5": "0.5", "-.5": "-0.5",
		"5.": "5", "1.5E+3": "1500", "1.0E-5": "0.00001", "-2e2": "-200", "123456789012345678901234.5678": "123456789012345678901234.5678",
		"0E-10": "0", "12.3400e1": "123.4",
	} {
		got, err := canonicalDecimal(in, &arena{})
		if err != nil || got != want {
			t.Errorf("canonicalDecimal(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-", ".", "NaN", "NAN", "Infinity", "1,5", "1.2.3", "1e", "0x10", " 1", "1e99999"} {
		if got, err := canonicalDecimal(in, &arena{}); err == nil {
			t.Errorf("canonicalDecimal(%q) = %q, want an error", in, got)
		}
	}
}

func TestCanonicalDecimalKeepsTheInputWhenItCan(t *testing.T) {
	a := &arena{}
	for _, in := range []string{"12.50", "-12.5", "+7", "100.00"} {
		if _, err := canonicalDecimal(in, a); err != nil {
			t.Fatal(err)
		}
	}
	if a.buf != nil {
		t.Fatalf("canonical text was built (%q) where the input had it", a.buf)
	}
}

func TestUnscaledDecimal(t *testing.T) {
	for _, tc := range []struct {
		b     []byte
		scale int
		want  string
	}{
		{[]byte{0xfb, 0x1e}, 2, "-12.5"},
		{[]byte{0x00}, 0, "0"},
		{nil, 3, "0"},
		{[]byte{0x27, 0x10}, 2, "100"},
		{[]byte{0x01}, 3, "0.001"},
		{[]byte{0xff}, 0, "-1"},
		{[]byte{0x80}, 1, "-12.8"},
		{[]byte{0x7f, 0xff}, 2, "327.67"},
		{[]byte{0x01}, -3, "1000"},
		{[]byte{0x03, 0xfd, 0x35, 0xeb, 0x6d, 0x79, 0x7a, 0x91, 0xbe, 0x38, 0xf3, 0x4e}, 4, "123456789012345678901234.5678"},
		{[]byte{0xfc, 0x02, 0xca, 0x14, 0x92, 0x86, 0x85, 0x6e, 0x41, 0xc7, 0x0c, 0xb2}, 4, "-123456789012345678901234.5678"},
	} {
		got, err := unscaledDecimal(tc.b, tc.scale, &arena{})
		if err != nil || got != tc.want {
			t.Errorf("unscaledDecimal(% x, %d) = %q, %v; want %q", tc.b, tc.scale, got, err, tc.want)
		}
	}
}

func TestInstantsMatchTimeParse(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	layouts := []string{"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05.000000Z07:00", "2006-01-02T15:04:05.999999999Z07:00"}
	for range 20000 {
		ts := time.Unix(r.Int64N(1<<37)-1<<36, r.Int64N(1e9)).UTC() // years ~ -200 to 4100
		if ts.Year() < 0 || ts.Year() > 9999 {
			continue
		}
		s := ts.Format(layouts[r.IntN(len(layouts))])
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseInstant(s)
		if err != nil || got != want.UnixMicro() {
			t.Fatalf("parseInstant(%q) = %d, %v; want %d", s, got, err, want.UnixMicro())
		}
	}
	for _, s := range []string{"2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z",
		"2024-01-01T00:00:00.Z", "2024-01-01 00:00:00Z", "2024-01-01T00:00:00", "infinity"} {
		if _, err := parseInstant(s); err == nil {
			t.Errorf("parseInstant(%q): no error", s)
		}
	}
	if got, err := parseInstant("2024-05-28T11:38:24.5+02:00"); err != nil || got != time.Date(2024, 5, 28, 9, 38, 24, 5e8, time.UTC).UnixMicro() {
		t.Errorf("offset form: %d, %v", got, err)
	}
}

func TestValidJSON(t *testing.T) {
	for _, s := range []string{`{}`, `[]`, `1`, `-0.5e+3`, `"a\u00e9\n"`, `{"a":[1,{"b":null}],"c":true}`, ` [ 1 , 2 ] `} {
		if !validJSON(s) {
			t.Errorf("validJSON(%q) = false", s)
		}
	}
	for _, s := range []string{``, `{`, `{"a"}`, `{"a":1,}`, `[1,]`, `01`, `1.`, `"\x"`, "\"\x01\"", `nul`, `{} {}`, `{a:1}`, `'a'`} {
		if validJSON(s) {
			t.Errorf("validJSON(%q) = true", s)
		}
	}
}
