package schemas

import (
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
	"testing"
)

func TestAppendJSON(t *testing.T) {
	c := fixtureCodec(t)
	var out []byte
	for _, e := range []*Event{customerRegistered(), transactionRegistered()} {
		b, err := c.AppendJSON(nil, e, "c5b1d0a2-7e3f-4a6b-8c9d-0e1f2a3b4c5d")
		if err != nil {
			t.Fatalf("%s: %v", e.EventName, err)
		}
		if !json.Valid(b) {
			t.Fatalf("%s: invalid JSON %s", e.EventName, b)
		}
		out = append(append(out, b...), '\n')
	}
	golden(t, "events.golden.json", out)
}

func TestAppendJSONEnvelope(t *testing.T) {
	c := fixtureCodec(t)
	e := transactionRegistered()
	e.CreatedAt = e.CreatedAt.Add(1500 * 1000) // 1.5 ms: written as stored, to the millisecond
	b, err := c.AppendJSON([]byte("kept"), e, "")
	if err != nil {
		t.Fatal(err)
	}
	want := `kept{"messageId":"` + messageID + `","eventName":"TransactionRegistered","storeCode":null,` +
		`"createdAt":"2025-03-14T09:26:53.001+00:00","data":{"transactionId":`
	if !strings.HasPrefix(string(b), want) {
		t.Errorf("got  %s\nwant %s...", b, want)
	}
}

func TestAppendJSONDecodedEvent(t *testing.T) {
	// The sender renders events it decoded, whose null fields are missing from the maps.
	c := fixtureCodec(t)
	e := customerRegistered()
	b, err := c.Append(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := c.decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want, err := c.AppendJSON(nil, e, "r")
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.AppendJSON(nil, decoded, "r")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("decoded event renders as\n%s\nwant\n%s", got, want)
	}
}

func TestDecimalText(t *testing.T) {
	for _, tc := range []struct {
		value string
		scale int
		want  string
	}{
		{"12.5", 8, "12.5"},
		{"100", 8, "100"},
		{"-0.25", 8, "-0.25"},
		{"0", 8, "0"},
		{"0.00000001", 8, "0.00000001"},
		{"-7", 0, "-7"},
		{"1000.10", 2, "1000.1"},
		{"-92233720368.54775808", 8, "-92233720368.54775808"},
		{"123456789012345678901234567890.12345678", 8, "123456789012345678901234567890.12345678"},
		{"-0.000000000000000000001", 30, "-0.000000000000000000001"},
	} {
		typ, err := decimalType(map[string]any{"precision": json.Number("38"), "scale": json.Number(strconv.Itoa(tc.scale))}, "x")
		if err != nil {
			t.Fatal(err)
		}
		u, err := typ.decimal(rat(tc.value))
		if err != nil {
			t.Errorf("%s: %v", tc.value, err)
			continue
		}
		if got := string(appendDecimalText(nil, u, tc.scale)); got != tc.want {
			t.Errorf("%s at scale %d: got %s, want %s", tc.value, tc.scale, got, tc.want)
		}
		var back big.Rat
		if _, ok := back.SetString(tc.want); !ok || back.Cmp(rat(tc.value)) != 0 {
			t.Errorf("%s does not read back as %s", tc.want, tc.value)
		}
	}
}

func TestJSONString(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " backslash \ slash /`, "\n\r\t\b\f\x00\x1f\x7f", "<html>&amp;",
		"ünïcode ✓ 😀", "\u2028\u2029", "bad \xff utf-8 \xe2\x82",
	} {
		b := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Errorf("%q: %s is not JSON: %v", s, b, err)
			continue
		}
		// encoding/json also turns each invalid byte into U+FFFD.
		std, _ := json.Marshal(s)
		var want string
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if back != want {
			t.Errorf("%q: %s reads back as %q", s, b, back)
		}
		if strings.ContainsAny(string(b), "\u2028\u2029") {
			t.Errorf("%q: %s holds a raw line separator", s, b)
		}
	}
}

func TestAppendSourceJSON(t *testing.T) {
	got := string(AppendSourceJSON(nil, customerRegistered().Source))
	want := `{"topic":"loyalty.public.member","partition":3,"offset":42,"table":"member","op":"c","lsn":123456789,"txId":null}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	c := fixtureCodec(b)
	e := customerRegistered()
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.AppendJSON(buf[:0], e, "c5b1d0a2-7e3f-4a6b-8c9d-0e1f2a3b4c5d"); err != nil {
			b.Fatal(err)
		}
	}
}
