package schemas

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

func TestRoundTripSingleObject(t *testing.T) {
	c := fixtureCodec(t)
	w, err := NewWriter(context.Background(), c, nil, "unused")
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(c, nil)
	for _, e := range []*Event{customerRegistered(), transactionRegistered()} {
		b, err := w.Encode(nil, e)
		if err != nil {
			t.Fatalf("%s: %v", e.EventName, err)
		}
		got, err := r.Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", e.EventName, err)
		}
		if d := diffEvent(e, got); d != "" {
			t.Errorf("%s: %s", e.EventName, d)
		}
	}
}

// TestEncodingMatchesGoavro checks the bytes themselves against goavro's encoder, which is
// handed the same event in goavro's own form.
func TestEncodingMatchesGoavro(t *testing.T) {
	c := fixtureCodec(t)
	e := customerRegistered()
	got, err := c.Append(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	union := goavro.Union
	native := map[string]any{
		"messageId": e.MessageID,
		"eventName": e.EventName,
		"storeCode": union("string", e.StoreCode),
		"createdAt": e.CreatedAt,
		"data": union("io.loyaltyhooks.data.CustomerRegistered", map[string]any{
			"customer": map[string]any{
				"customerId": customerID,
				"email":      union("string", "ana@example.com"),
				"phone":      nil,
				"gender":     union("io.loyaltyhooks.Gender", "female"),
			},
			"birthDate":    union("int.date", e.Data["birthDate"]),
			"registeredAt": e.Data["registeredAt"],
			"lastSeenAt":   nil,
			"active":       true,
			"visits":       int32(-7),
			"points":       int64(-12_000_000_000),
			"balance":      rat("-0.25"),
			"labels": union("array", []any{
				map[string]any{"key": "tier", "value": union("string", "gold \"vip\"\n\u2028<ok>")},
				map[string]any{"key": "ünïcode ✓", "value": nil},
			}),
			"previousGender": nil,
		}),
		"source": map[string]any{
			"topic": e.Source.Topic, "partition": e.Source.Partition, "offset": e.Source.Offset,
			"table": e.Source.Table, "op": e.Source.Op, "lsn": union("long", e.Source.LSN), "txId": nil,
		},
	}
	want, err := c.avro.BinaryFromNative(nil, native)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("encoding differs from goavro's:\n got %x\nwant %x", got, want)
	}
}

func TestSingleObjectHeader(t *testing.T) {
	c := fixtureCodec(t)
	w, err := NewWriter(context.Background(), c, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	body, err := c.Append(nil, customerRegistered())
	if err != nil {
		t.Fatal(err)
	}
	b, err := w.Encode([]byte("kept"), customerRegistered())
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("kept\xc3\x01")
	want = binary.LittleEndian.AppendUint64(want, c.Fingerprint())
	want = append(want, body...)
	if string(b) != string(want) {
		t.Errorf("got %x\nwant %x", b, want)
	}
	if w.SchemaID() != 0 {
		t.Errorf("schema id %d without a registry", w.SchemaID())
	}
}

func TestConfluent(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	var fetches atomic.Int32
	reg.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/schemas/ids/") {
			fetches.Add(1)
		}
		return false
	})
	// An older version of the schema, already registered, that this build no longer writes.
	old := fixtureFS(t)
	replace(old, "triggers/CustomerRegistered.avsc", `{"name": "points", "type": "long"},`, ``)
	oldCodec, err := NewFromFS(old)
	if err != nil {
		t.Fatal(err)
	}
	reg.SeedSchema("loyalty.webhooks-value", 1, 7, sr.Schema{Schema: oldCodec.Schema()})
	client, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := fixtureCodec(t)

	w, err := NewWriter(ctx, c, client, ValueSubject("loyalty.webhooks"))
	if err != nil {
		t.Fatal(err)
	}
	registered, ok := reg.GetSchema("loyalty.webhooks-value", 2)
	if !ok || registered.Schema.Schema != c.Schema() || registered.ID != w.SchemaID() || w.SchemaID() == 7 {
		t.Fatalf("registered %+v (found %v) with writer id %d", registered, ok, w.SchemaID())
	}
	e := customerRegistered()
	b, err := w.Encode(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0 || int(binary.BigEndian.Uint32(b[1:5])) != w.SchemaID() {
		t.Fatalf("header % x, want 0 and id %d", b[:5], w.SchemaID())
	}

	r := NewReader(c, client)
	for range 3 {
		got, err := r.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffEvent(e, got); d != "" {
			t.Fatal(d)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches of the schema, want 1", n)
	}

	// A record written with the older schema decodes with it.
	oldWriter := &Writer{codec: oldCodec, header: []byte{0, 0, 0, 0, 7}, id: 7}
	delete(e.Data, "points")
	b, err = oldWriter.Encode(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffEvent(e, got); d != "" {
		t.Error(d)
	}

	// Ids the registry does not know fail, and are not cached as found.
	if _, err := r.Decode([]byte{0, 0, 0, 0, 99, 0}); err == nil || !strings.Contains(err.Error(), "schema id 99") {
		t.Errorf("unknown id: got %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	c := fixtureCodec(t)
	w, _ := NewWriter(context.Background(), c, nil, "")
	good, err := w.Encode(nil, customerRegistered())
	if err != nil {
		t.Fatal(err)
	}
	otherFingerprint := append([]byte{}, good...)
	otherFingerprint[5] ^= 0xff
	confluent := append([]byte{0, 0, 0, 0, 1}, good[10:]...)

	r := NewReader(c, nil)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "empty record"},
		{"unknown framing", []byte("{}"), "first byte 0x7b"},
		{"unknown fingerprint", otherFingerprint, "unknown schema fingerprint"},
		{"truncated", good[:len(good)-3], "decode webhook event"},
		{"trailing bytes", append(append([]byte{}, good...), 1, 2), "2 bytes after the record"},
		{"confluent without registry", confluent, "no schema registry is configured"},
	} {
		if _, err := r.Decode(tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestDecimals(t *testing.T) {
	c := fixtureCodec(t)
	path := "data.CustomerRegistered.balance"
	for _, tc := range []struct {
		value string
		want  string // error, or "" when the value fits decimal(38,8)
	}{
		{"0", ""},
		{"-0.25", ""},
		{"12345678.12345678", ""},
		{"-92233720368.54775808", ""}, // the unscaled value is the smallest int64
		{"99999999999999999999999999999.99999999", ""},
		{"1.123456789", path + ": 1.123456789 has more than 8 fractional digits (decimal(38,8)); it is not rounded"},
		{"1/3", path + ": 1/3 has more than 8 fractional digits"},
		{"123456789012345678901234567890.000000001", "has more than 8 fractional digits"},
		{"1000000000000000000000000000000", path + ": 1000000000000000000000000000000 has more than 38 digits (decimal(38,8))"},
	} {
		e := customerRegistered()
		e.Data["balance"] = rat(tc.value)
		b, err := c.Append(nil, e)
		if tc.want != "" {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: got error %v, want %q", tc.value, err, tc.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.value, err)
			continue
		}
		got, err := c.decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Data["balance"].(*big.Rat).Cmp(rat(tc.value)) != 0 {
			t.Errorf("%s came back as %v", tc.value, got.Data["balance"])
		}
	}

	// decimal(10,2): precision bounds the digits when they fit 64 bits too.
	for value, want := range map[string]string{
		"99999999.99":  "",
		"100000000":    "data.TransactionRegistered.items[1].quantity: 100000000 has more than 10 digits (decimal(10,2))",
		"-123456789.5": "data.TransactionRegistered.items[1].quantity: -123456789.5 has more than 10 digits (decimal(10,2))",
	} {
		e := transactionRegistered()
		e.Data["items"].([]any)[1].(map[string]any)["quantity"] = rat(value)
		_, err := c.Append(nil, e)
		if want == "" && err != nil || want != "" && (err == nil || err.Error() != want) {
			t.Errorf("%s: got %v, want %q", value, err, want)
		}
	}
}

func TestFieldErrors(t *testing.T) {
	c := fixtureCodec(t)
	for _, tc := range []struct {
		name string
		edit func(e *Event)
		want string
	}{
		{"wrong type", func(e *Event) { customer(e)["email"] = int64(5) },
			"data.CustomerRegistered.customer.email: want string, got int64"},
		{"missing required", func(e *Event) { delete(customer(e), "customerId") },
			"data.CustomerRegistered.customer.customerId: want string, got null"},
		{"misspelt key", func(e *Event) { customer(e)["emial"] = "x"; customer(e)["zz"] = "y" },
			"data.CustomerRegistered.customer.emial: not a field of io.loyaltyhooks.Customer"},
		{"array item", func(e *Event) { e.Data["labels"].([]any)[1].(map[string]any)["key"] = true },
			"data.CustomerRegistered.labels[1].key: want string, got bool"},
		{"array", func(e *Event) { e.Data["labels"] = []map[string]any{} },
			"data.CustomerRegistered.labels: want []any, got []map[string]interface {}"},
		{"enum symbol", func(e *Event) { customer(e)["gender"] = "robot" },
			`data.CustomerRegistered.customer.gender: "robot" is not a symbol of io.loyaltyhooks.Gender [male female not_disclosed]`},
		{"uuid", func(e *Event) { customer(e)["customerId"] = "42" },
			`data.CustomerRegistered.customer.customerId: "42" is not a UUID`},
		{"int range", func(e *Event) { e.Data["visits"] = int64(1 << 31) },
			"data.CustomerRegistered.visits: 2147483648 does not fit an int"},
		{"float", func(e *Event) { e.Data["balance"] = 0.1 },
			"data.CustomerRegistered.balance: want *big.Rat, got float64"},
		{"time", func(e *Event) { e.Data["registeredAt"] = "2025-01-01" },
			"data.CustomerRegistered.registeredAt: want time.Time, got string"},
		{"event name", func(e *Event) { e.EventName = "CustomerSneezed" },
			`eventName: "CustomerSneezed" is not a trigger of the schema`},
		{"message id", func(e *Event) { e.MessageID = "" },
			`messageId: "" is not a UUID`},
		{"created at", func(e *Event) { e.CreatedAt = time.Time{} },
			"createdAt: not set"},
	} {
		e := customerRegistered()
		tc.edit(e)
		b, err := c.Append([]byte("kept"), e)
		var fe *FieldError
		if !errors.As(err, &fe) || err.Error() != tc.want {
			t.Errorf("%s: got %v, want %s", tc.name, err, tc.want)
		}
		if string(b) != "kept" {
			t.Errorf("%s: dst became %q, want it unchanged", tc.name, b)
		}
		if _, jerr := c.AppendJSON(nil, e, ""); jerr == nil || jerr.Error() != tc.want {
			t.Errorf("%s: AppendJSON: got %v, want %s", tc.name, jerr, tc.want)
		}
	}
}

func customer(e *Event) map[string]any { return e.Data["customer"].(map[string]any) }

// TestEncodeAllocations holds the encoder to its budget: an event whose decimals fit 64 bits
// costs no allocation once dst has room.
func TestEncodeAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	c := fixtureCodec(t)
	w, err := NewWriter(context.Background(), c, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	e := customerRegistered()
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := w.Encode(buf[:0], e); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per event, want 0", allocs)
	}
	// Without a buffer, the record's one allocation.
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := w.Encode(nil, e); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 1 {
		t.Errorf("%v allocations per event into a nil dst, want 1", allocs)
	}
}

func BenchmarkEncode(b *testing.B) {
	c := fixtureCodec(b)
	w, err := NewWriter(context.Background(), c, nil, "")
	if err != nil {
		b.Fatal(err)
	}
	embedded, err := New()
	if err != nil {
		b.Fatal(err)
	}
	// The shipped TransactionRegistered with every field set, one item and one label.
	full := transactionRegistered()
	full.Data = sample(embedded.triggers["TransactionRegistered"].typ, 0).(map[string]any)
	for _, bc := range []struct {
		name string
		w    *Writer
		e    *Event
	}{
		{"CustomerRegistered", w, customerRegistered()},
		{"TransactionRegisteredBigDecimal", w, transactionRegistered()},
		{"EmbeddedTransactionRegistered", &Writer{codec: embedded}, full},
	} {
		e := bc.e
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.w.Encode(buf[:0], e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	c := fixtureCodec(b)
	w, _ := NewWriter(context.Background(), c, nil, "")
	r := NewReader(c, nil)
	rec, err := w.Encode(nil, customerRegistered())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Decode(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// sample makes a plain value for t with every optional value present (down to a depth) and
// every array holding one item, so each field of a schema gets encoded.
func sample(t *avroType, depth int) any {
	switch t.kind {
	case kindBoolean:
		return true
	case kindInt:
		return int64(-3)
	case kindLong:
		return int64(1) << 40
	case kindString:
		return "text"
	case kindUUID:
		return customerID
	case kindEnum:
		return t.symbols[len(t.symbols)-1]
	case kindDecimal:
		return rat("-1.5")
	case kindTimestampMillis:
		return time.Date(2025, 1, 2, 3, 4, 5, 6e6, time.UTC)
	case kindTimestampMicros:
		return time.Date(2025, 1, 2, 3, 4, 5, 6e3, time.UTC)
	case kindDate:
		return time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
	case kindRecord:
		m := map[string]any{}
		for _, f := range t.fields {
			m[f.name] = sample(f.typ, depth+1)
		}
		return m
	case kindArray:
		return []any{sample(t.items, depth+1)}
	case kindUnion:
		if depth > 8 {
			return nil
		}
		some, _ := t.some()
		return sample(some, depth)
	}
	return nil
}

// TestEveryTrigger round-trips a full event of each trigger of the embedded schema, so
// every schema file is known to work with the codec whatever its fields.
func TestEveryTrigger(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(c, nil)
	w, err := NewWriter(context.Background(), c, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Triggers {
		e := customerRegistered()
		e.EventName = name
		e.Data = sample(c.triggers[name].typ, 0).(map[string]any)
		b, err := w.Encode(nil, e)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		got, err := r.Decode(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if d := diffEvent(e, got); d != "" {
			t.Errorf("%s: %s", name, d)
		}
		if j, err := c.AppendJSON(nil, got, ""); err != nil || !json.Valid(j) {
			t.Errorf("%s: JSON %s: %v", name, j, err)
		}
	}
}
