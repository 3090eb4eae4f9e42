package rules

import (
	"encoding/json"
	"math"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
)

var jsonSeeds = []string{
	`null`, `true`, `false`, `0`, `-0`, `-0.5e+10`, `1E3`, `01`, `1.`, `.5`, `-`, `+1`, `1e`, `nul`,
	`""`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\u20AC"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00x"`,
	`"\ud83d\u0041"`, `"\x"`, `"\u12"`, "\"tab\there\"", `"unterminated`, "\"\xff\xfe\"", `"Długa"`,
	`[]`, `[1,2,]`, `[,]`, `{}`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `{"a":{"b":[1,{"c":null}]}}`,
	` {"a" : [ true , false ] } `, `{"a":1}{`, `[[[[[[]]]]]]`, `{"":""}`,
}

// FuzzJSONSkip checks the reader accepts exactly the JSON that encoding/json accepts, and reads
// strings to the same values.
func FuzzJSONSkip(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := jsonReader{s: s}
		err := r.skip(0)
		if err == nil {
			r.space()
			if r.i < len(s) {
				err = r.fail("trailing")
			}
		}
		if valid := json.Valid([]byte(s)); valid != (err == nil) {
			t.Fatalf("%q: encoding/json valid %v, reader error %v", s, valid, err)
		}
		if len(s) > 0 && s[0] == '"' && err == nil {
			r := jsonReader{s: s}
			got, _ := r.str()
			var want string
			if err := json.Unmarshal([]byte(s), &want); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("%q: read %q, encoding/json %q", s, got, want)
			}
		}
	})
}

func TestJSONColumn(t *testing.T) {
	at := time.Date(2026, 1, 3, 9, 59, 0, 0, time.UTC)
	cases := []struct {
		name  string
		v     cdc.Value
		kind  jsonKind
		shape *jsonShape
		want  any
	}{
		{"sql null", cdc.Value{}, jsonRecord, addressShape, nil},
		{"unavailable", cdc.UnavailableValue(), jsonRecord, addressShape, nil},
		{"json null", js(` null `), jsonRecord, addressShape, nil},
		{"missing and unknown keys", js(`{"city":"Kraków","zip":{"x":[1]},"country":null}`), jsonRecord, addressShape,
			map[string]any{"city": "Kraków", "country": nil}},
		{"duplicate key, last wins", js(`{"city":"A","city":"B"}`), jsonRecord, addressShape, map[string]any{"city": "B"}},
		{"scalars as text", js(`{"name":12.50,"nip":true}`), jsonRecord, companyShape, map[string]any{"name": "12.50", "nip": "true"}},
		{"text column", cdc.StringValue(`{"name":"X"}`), jsonRecord, companyShape, map[string]any{"name": "X"}},
		{"attributes", js(`[{"key":"a","value":{"deep":1}},{"value":"v"}]`), jsonRecords, attributeShape,
			[]any{map[string]any{"key": "a", "value": `{"deep":1}`}, map[string]any{"value": "v"}}},
		{"empty list", js(`[ ]`), jsonRecords, attributeShape, []any{}},
		{"action cause with offset", js(`{"performedAt":"2026-01-03T10:59:00+01:00","campaignId":"c"}`), jsonRecord, actionCauseShape,
			map[string]any{"performedAt": at, "campaignId": "c"}},
		{"action cause PHP offset", js(`{"performedAt":"2026-01-03T10:59:00+0100"}`), jsonRecord, actionCauseShape,
			map[string]any{"performedAt": at}},
		{"item decimals exact", js(`[{"quantity":0.1,"grossValue":"123456789012345678901234567890.12345678"}]`), jsonRecords, itemShape,
			[]any{map[string]any{"quantity": schemas.Decimal{Unscaled: 1, Scale: 1}, "grossValue": mustRat("123456789012345678901234567890.12345678")}}},
		{"trigger payload raw", js(`{"payload": {"a": [1, "x"]} }`), jsonRecord, campaignTriggerShape,
			map[string]any{"payload": `{"a": [1, "x"]}`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := jsonColumn("col", c.v, c.kind, c.shape)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %#v, want %#v", got, c.want)
			}
		})
	}
}

func TestJSONColumnErrors(t *testing.T) {
	cases := []struct {
		v     cdc.Value
		kind  jsonKind
		shape *jsonShape
	}{
		{js(`[`), jsonRecords, attributeShape},
		{js(`{"key":"a"`), jsonRecord, attributeShape},
		{js(`[null]`), jsonRecords, attributeShape},
		{js(`[1]`), jsonRecords, attributeShape},
		{js(`{}`), jsonRecords, attributeShape},
		{js(`[]`), jsonRecord, attributeShape},
		{js(`{"quantity":[1]}`), jsonRecord, itemShape},
		{js(`{"quantity":"1/3"}`), jsonRecord, itemShape},
		{js(`{"performedAt":1767261600}`), jsonRecord, actionCauseShape},
		{js(`{"city":"x"} x`), jsonRecord, addressShape},
		{cdc.IntValue(1), jsonRecord, addressShape},
	}
	for _, c := range cases {
		if got, err := jsonColumn("col", c.v, c.kind, c.shape); err == nil {
			t.Errorf("%q: no error, got %#v", c.v.Str, got)
		}
	}
}

func mustRat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}

func TestDecimals(t *testing.T) {
	for _, s := range []string{"0", "-0", "+1", "1.", ".5", "00012.3400", "1e3", "-1.5E-3", "99999999999999999999999999999.99999999"} {
		if _, err := parseDecimal(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"", ".", "-", "1/3", "0x10", "0b1", "NaN", "Infinity", "1e", "1e+", "1.2.3", "1,5", " 1", "--1", "1_000"} {
		if r, err := parseDecimal(s); err == nil {
			t.Errorf("%q: parsed as %v", s, r)
		}
	}
	same := [][2]string{{"1.5", "1.50"}, {"0", "-0.000"}, {"007", "7"}, {"1e3", "1000"}, {"-2.10", "-2.1"}, {".5", "0.5"}, {"+3", "3"}}
	for _, p := range same {
		if !sameDecimal(p[0], p[1]) || !sameDecimal(p[1], p[0]) {
			t.Errorf("%s and %s should be the same number", p[0], p[1])
		}
	}
	differ := [][2]string{{"1.5", "1.05"}, {"1", "-1"}, {"10", "1"}, {"0.1", "0.10000001"}, {"1e3", "100"}, {"NaN", "NaN "}, {"12345678901234567890.1", "12345678901234567890.2"}}
	for _, p := range differ {
		if sameDecimal(p[0], p[1]) || sameDecimal(p[1], p[0]) {
			t.Errorf("%s and %s should differ", p[0], p[1])
		}
	}
}

func TestInstants(t *testing.T) {
	want := time.Date(2026, 1, 3, 9, 59, 0, 500000000, time.UTC)
	for _, s := range []string{"2026-01-03T09:59:00.5Z", "2026-01-03T10:59:00.5+01:00", "2026-01-03T10:59:00.5+0100",
		"2026-01-03 10:59:00.5+01", "2026-01-03 09:59:00.5", "2026-01-03T09:59:00.5"} {
		got, err := parseTime(s)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%q: %v %v", s, got, err)
		}
	}
	if _, err := parseTime("03/01/2026"); err == nil {
		t.Error("parsed a date in an unknown form")
	}
	// Column conversions: every instant is UTC, dates are midnight.
	v, err := date("d", cdc.TimeValue(time.Date(2026, 1, 3, 23, 0, 0, 0, time.FixedZone("x", 3600))))
	if err != nil || v.(time.Time) != time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC) {
		t.Errorf("date of an instant: %v %v", v, err)
	}
}

// TestFixed checks the machine-word decimal path against big.Rat.
func TestFixed(t *testing.T) {
	texts := []string{"0", "-0", "1", "-1", "0.1", "0.2", "0.30", "100.50", "-0.00000001", "123456789012345678",
		"999999999999999999", "-999999999999999999", "0.000000000000000001", "12.5", "1.", ".25", "+7.000", "0001.1000"}
	for _, a := range texts {
		fa, ok := parseFixed(a)
		if !ok {
			t.Fatalf("%q: not fixed", a)
		}
		if got, want := fa.rat(), mustRat(a); got.Cmp(want) != 0 || got.String() != want.String() {
			t.Errorf("%q: rat %s, want %s", a, got, want)
		}
		if got, want := fa.decimal().Rat(), mustRat(a); got.Cmp(want) != 0 {
			t.Errorf("%q: decimal %+v, want %s", a, fa.decimal(), want)
		}
		for _, b := range texts {
			fb, _ := parseFixed(b)
			want := new(big.Rat).Sub(mustRat(a), mustRat(b))
			d, ok := fa.sub(fb)
			if !ok {
				continue // overflow: the caller takes the big.Rat path
			}
			if got := d.rat(); got.String() != want.String() {
				t.Errorf("%s − %s = %s, want %s", a, b, got, want)
			}
		}
	}
	for _, s := range []string{"", "-", ".", "1e3", "1234567890123456789", "1/2", "1.2.3", "0x1", " 1"} {
		if f, ok := parseFixed(s); ok {
			t.Errorf("%q: fixed %+v", s, f)
		}
	}
	if _, ok := (fixed{m: math.MaxInt64}).sub(fixed{m: -1}); ok {
		t.Error("overflow not detected")
	}
	if _, ok := (fixed{m: math.MaxInt64 / 5, scale: 0}).sub(fixed{m: 1, scale: 1}); ok {
		t.Error("rescaling overflow not detected")
	}
}
