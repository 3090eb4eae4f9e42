package cdc_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wrap embeds a schema as Kafka Connect's JSON converter does with schemas.enable=true.
func wrap(schema, payload []byte) []byte {
	return []byte(fmt.Sprintf(`{"schema":%s,"payload":%s}`, schema, payload))
}

func loyalty(format string) config.Source {
	return config.Source{TopicPrefix: "loyalty", Schema: "public", Format: format}
}

func newDecoder(t testing.TB, src config.Source) *cdc.Decoder {
	t.Helper()
	d, err := cdc.NewDecoder(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func record(topic string, key, value []byte) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: key, Value: value, Partition: 2, Offset: 4711}
}

func micros(s string) cdc.Value {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return cdc.TimeValue(t)
}

func col(name string, v cdc.Value) cdc.Column { return cdc.Column{Name: name, Value: v} }

const (
	anneID   = "9a1e5b2c-6f7d-4c1e-8b0a-2d3f4e5a6b7c"
	walletID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
)

// anne is the member row of testdata/member-c.json.
func anne() *cdc.Row {
	return &cdc.Row{Columns: []cdc.Column{
		col("member_id", cdc.StringValue(anneID)),
		col("tenant_id", cdc.StringValue("0b0c9d1e-1111-4a2b-9c3d-000000000001")),
		col("active", cdc.BoolValue(true)),
		col("first_name", cdc.StringValue("Anne")),
		col("last_name", cdc.StringValue("Kretchmar")),
		col("gender", cdc.StringValue("female")),
		col("email", cdc.StringValue("annek@noanswer.org")),
		col("phone", cdc.StringValue("+48123456789")),
		col("birth_date", cdc.DateValue(7305)),
		col("loyalty_card_number", cdc.StringValue("LC-0001")),
		col("registered_at", micros("2024-05-28T09:38:24.863123Z")),
		col("address", cdc.JSONValue(`{"city": "Kraków", "street": "Długa 1", "country": "PL"}`)),
		col("company", cdc.Value{}),
		col("agreement1", cdc.BoolValue(true)),
		col("agreement2", cdc.BoolValue(false)),
		col("agreement3", cdc.BoolValue(false)),
		col("custom_attributes", cdc.JSONValue(`[{"key": "tier", "value": "gold"}]`)),
		col("referral_token", cdc.StringValue("ref-anne")),
		col("level_id", cdc.StringValue("5c3b2a19-0000-4000-8000-00000000000a")),
		col("manually_assigned_level_id", cdc.Value{}),
		col("next_recalculation_at", micros("2025-01-01T00:00:00Z")),
		col("projected_level_id", cdc.Value{}),
		col("created_at", micros("2024-05-28T09:38:24.863123Z")),
		col("updated_at", micros("2024-05-28T09:38:24.863123Z")),
	}}
}

// anneMarie is the row after the update of testdata/member-u.json; its custom attributes were
// not read from TOAST.
func anneMarie(attrs cdc.Value) *cdc.Row {
	r := anne()
	r.Set("first_name", cdc.StringValue("Anne Marie"))
	r.Set("custom_attributes", attrs)
	r.Set("updated_at", micros("2024-05-28T10:02:11.5Z"))
	return r
}

func memberKey() *cdc.Row {
	return &cdc.Row{Columns: []cdc.Column{col("member_id", cdc.StringValue(anneID))}}
}

func source(tsMs, txID, lsn int64, snapshot, topic string) cdc.Source {
	return cdc.Source{TsMs: tsMs, Snapshot: snapshot, DB: "loyalty", Schema: "public", Table: "member",
		TxID: txID, LSN: lsn, Topic: topic, Partition: 2, Offset: 4711}
}

// documented are the events of Debezium's "data change events" documentation, for the member
// table, as testdata fixtures and the Changes they must decode to.
func documented() []struct {
	name, file string
	want       *cdc.Change
} {
	const topic = "loyalty.public.member"
	return []struct {
		name, file string
		want       *cdc.Change
	}{
		{"create", "member-c.json", &cdc.Change{Table: "member", Op: cdc.OpCreate, Key: memberKey(), After: anne(),
			TsMs: 1559033904863, Source: source(1559033904863, 555, 24023128, "false", topic)}},
		{"update", "member-u.json", &cdc.Change{Table: "member", Op: cdc.OpUpdate, Key: memberKey(), Before: anne(),
			After: anneMarie(cdc.UnavailableValue()), TsMs: 1465584025523, Source: source(1559033904863, 556, 24023128, "false", topic)}},
		{"delete", "member-d.json", &cdc.Change{Table: "member", Op: cdc.OpDelete, Key: memberKey(),
			Before: anneMarie(cdc.JSONValue(`[{"key": "tier", "value": "gold"}]`)), TsMs: 1465581902461,
			Source: source(1559033904863, 556, 46523128, "false", topic)}},
		{"read", "member-r.json", &cdc.Change{Table: "member", Op: cdc.OpRead, Key: memberKey(), After: anne(),
			TsMs: 1559033904870, Source: source(1559033904863, 554, 24023100, "last", topic)}},
		{"truncate", "member-t.json", &cdc.Change{Table: "member", Op: cdc.OpTruncate, TsMs: 1559033904961,
			Source: source(1559033904863, 556, 46523128, "false", topic)}},
	}
}

func TestDecodeDocumentedEventsInBothJSONForms(t *testing.T) {
	d := newDecoder(t, loyalty(config.FormatJSON))
	schema := fixture(t, "member.schema.json")
	keySchema := fixture(t, "member.key.schema.json")
	bareKey := []byte(`{"member_id":"` + anneID + `"}`)
	for _, tc := range documented() {
		for _, embedded := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/schema=%v", tc.name, embedded), func(t *testing.T) {
				value, key := fixture(t, tc.file), bareKey
				if embedded {
					value, key = wrap(schema, value), wrap(keySchema, key)
				}
				if tc.want.Key == nil {
					key = nil // Debezium sends truncates without a key
				}
				got, err := d.Decode(context.Background(), record("loyalty.public.member", key, value))
				if err != nil {
					t.Fatal(err)
				}
				assertChange(t, got, tc.want)
			})
		}
	}
}

func TestDecodeLogicalDecodingMessage(t *testing.T) {
	d := newDecoder(t, loyalty(config.FormatJSON))
	value, key := fixture(t, "message-m.json"), []byte(`{"prefix":"foo"}`)
	want := &cdc.Change{Op: cdc.OpMessage, TsMs: 1559033904961,
		Key: &cdc.Row{Columns: []cdc.Column{col("prefix", cdc.StringValue("foo"))}},
		// The documentation's content "Ymfy" is base64 of these bytes (not of "bar", "YmFy").
		Message: &cdc.Message{Prefix: "foo", Content: []byte{0x62, 0x67, 0xf2}},
		Source: cdc.Source{TsMs: 1559033904863, Snapshot: "false", DB: "loyalty", TxID: 556, LSN: 46523128,
			Topic: "loyalty.message", Partition: 2, Offset: 4711}}
	for _, embedded := range []bool{false, true} {
		v, k := value, key
		if embedded {
			v, k = wrap(fixture(t, "message.schema.json"), v), wrap(fixture(t, "message.key.schema.json"), k)
		}
		got, err := d.Decode(context.Background(), record("loyalty.message", k, v))
		if err != nil {
			t.Fatal(err)
		}
		assertChange(t, got, want)
	}
}

func assertChange(t *testing.T, got, want *cdc.Change) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded change differs\n got: %s\nwant: %s", show(got), show(want))
	}
}

func show(ch *cdc.Change) string {
	if ch == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%s %s ts=%d src=%+v msg=%+v\n  key=%s\n  before=%s\n  after=%s",
		ch.Table, ch.Op, ch.TsMs, ch.Source, ch.Message, showRow(ch.Key), showRow(ch.Before), showRow(ch.After))
}

func showRow(r *cdc.Row) string {
	if r == nil {
		return "nil"
	}
	var b strings.Builder
	for _, c := range r.Columns {
		fmt.Fprintf(&b, "%s=%d:%q/%d ", c.Name, c.Value.Kind, c.Value.Str, c.Value.Int)
	}
	return b.String()
}

func TestDecimalHandlingModes(t *testing.T) {
	d := newDecoder(t, loyalty(config.FormatJSON))
	units := []string{"active_units", "pending_units", "blocked_units", "expired_units", "spent_units", "earned_units"}
	wallet := func(values ...cdc.Value) *cdc.Row {
		r := &cdc.Row{Columns: []cdc.Column{col("wallet_id", cdc.StringValue(walletID))}}
		for i, v := range values {
			r.Columns = append(r.Columns, col(units[i], v))
		}
		return r
	}
	dec := cdc.DecimalValue
	cases := []struct {
		name, payload, schema string // schema "" for the bare form only
		want                  *cdc.Row
	}{
		{"string", "wallet-string.json", "wallet-string.schema.json",
			wallet(dec("-12.5"), dec("0"), dec("100"), dec("0.001"), dec("123456789012345678901234.5678"), dec("0"))},
		{"double", "wallet-double.json", "wallet-double.schema.json",
			wallet(dec("-12.5"), dec("0"), dec("100"), dec("0.0001"), dec("12345678"), dec("12.345"))},
		{"precise/VariableScaleDecimal", "wallet-precise.json", "wallet-precise.schema.json",
			wallet(dec("-12.5"), dec("0"), dec("100"), dec("0.001"), dec("123456789012345678901234.5678"), cdc.UnavailableValue())},
		{"precise/Decimal", "wallet-fixed.json", "wallet-fixed.schema.json",
			wallet(dec("-12.5"), dec("0"), dec("100"), dec("0.01"), dec("-0.05"), dec("327.67"))},
	}
	for _, tc := range cases {
		for _, embedded := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/schema=%v", tc.name, embedded), func(t *testing.T) {
				value := fixture(t, tc.payload)
				if embedded {
					value = wrap(fixture(t, tc.schema), value)
				}
				got, err := d.Decode(context.Background(), record("loyalty.public.wallet", nil, value))
				if tc.name == "precise/Decimal" && !embedded {
					// Without a schema the scale of the bytes is unknown: never guess.
					assertPoison(t, err, cdc.ReasonBadValue, "active_units", "decimal.handling.mode=string")
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got.After, tc.want) {
					t.Fatalf("after\n got: %s\nwant: %s", showRow(got.After), showRow(tc.want))
				}
			})
		}
	}
}

func TestTimeEncodings(t *testing.T) {
	d := newDecoder(t, loyalty(config.FormatJSON))
	value := wrap(fixture(t, "member-times.schema.json"), fixture(t, "member-times.json"))
	got, err := d.Decode(context.Background(), record("loyalty.public.member", nil, value))
	if err != nil {
		t.Fatal(err)
	}
	want := &cdc.Row{Columns: []cdc.Column{
		col("member_id", cdc.StringValue(anneID)),
		col("birth_date", cdc.DateValue(-365)),                          // org.apache.kafka.connect.data.Date
		col("registered_at", cdc.MicrosValue(1716889104863000)),         // Connect Timestamp, millis
		col("created_at", micros("2018-06-20T15:13:16.945104Z")),        // MicroTimestamp, the documented example
		col("updated_at", cdc.MicrosValue(-1000000)),                    // io.debezium.time.Timestamp, before 1970
		col("next_recalculation_at", cdc.MicrosValue(1529507596945104)), // NanoTimestamp, truncated
	}}
	if !reflect.DeepEqual(got.After, want) {
		t.Fatalf("after\n got: %s\nwant: %s", showRow(got.After), showRow(want))
	}

	// Without a schema, a timestamptz column that holds a number is a timestamp in microseconds.
	bare := []byte(`{"op":"c","source":{"ts_ms":1},"after":{"member_id":"` + anneID + `","created_at":1529507596945104,"birth_date":"1990-01-01"}}`)
	got, err = d.Decode(context.Background(), record("loyalty.public.member", nil, bare))
	if err != nil {
		t.Fatal(err)
	}
	if v := got.After.Get("created_at"); v != micros("2018-06-20T15:13:16.945104Z") {
		t.Fatalf("created_at = %+v", v)
	}
	if v := got.After.Get("birth_date"); v != cdc.DateValue(7305) {
		t.Fatalf("birth_date = %+v", v)
	}
}

func TestSkipsTombstonesAndHeartbeats(t *testing.T) {
	d := newDecoder(t, loyalty(config.FormatJSON))
	key := []byte(`{"member_id":"` + anneID + `"}`)
	for name, r := range map[string]*kgo.Record{
		"tombstone":              record("loyalty.public.member", key, nil),
		"empty value":            record("loyalty.public.member", key, []byte{}),
		"heartbeat topic":        record("__debezium-heartbeat.loyalty", []byte(`{"serverName":"loyalty"}`), fixture(t, "heartbeat.json")),
		"heartbeat on table":     record("loyalty.public.member", nil, fixture(t, "heartbeat.json")),
		"bare value without op":  record("loyalty.public.member", nil, []byte(`{"ts_ms":1714000000000}`)),
		"null payload in schema": record("loyalty.public.member", nil, []byte(`{"schema":null,"payload":null}`)),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := d.Decode(context.Background(), r)
			if got != nil || err != nil {
				t.Fatalf("got %s, %v; want a skip", show(got), err)
			}
		})
	}
}

func TestSnapshotIsAString(t *testing.T) {
	d := newDecoder(t, loyalty(config.FormatJSON))
	for _, tc := range []struct{ raw, want string }{
		{`"true"`, "true"}, {`"last"`, "last"}, {`"false"`, "false"}, {`"incremental"`, "incremental"},
		{`true`, "true"}, {`false`, "false"}, {`null`, ""}, // booleans: Debezium before 1.6
	} {
		value := []byte(`{"before":null,"after":{"member_id":"` + anneID + `"},"source":{"snapshot":` + tc.raw + `},"op":"r"}`)
		got, err := d.Decode(context.Background(), record("loyalty.public.member", nil, value))
		if err != nil {
			t.Fatal(err)
		}
		if got.Source.Snapshot != tc.want {
			t.Errorf("snapshot %s decoded as %q, want %q", tc.raw, got.Source.Snapshot, tc.want)
		}
	}
}

func assertPoison(t *testing.T, err error, reason string, mentions ...string) {
	t.Helper()
	p, ok := cdc.IsPoison(err)
	if !ok {
		t.Fatalf("error %v is not poison", err)
	}
	if p.Reason != reason {
		t.Fatalf("reason %q, want %q (%v)", p.Reason, reason, err)
	}
	for _, m := range append([]string{"/2@4711"}, mentions...) {
		if !strings.Contains(err.Error(), m) {
			t.Fatalf("error %q does not mention %q", err, m)
		}
	}
}

func TestPoisonRecords(t *testing.T) {
	d := newDecoder(t, loyalty(config.FormatJSON))
	member := func(after string) []byte {
		return []byte(`{"before":null,"after":{"member_id":"` + anneID + `",` + after + `},"source":{"ts_ms":1},"op":"c"}`)
	}
	cases := []struct {
		name, topic string
		key, value  []byte
		reason      string
		mentions    []string
	}{
		{"unknown topic", "loyalty.public.orders", nil, fixture(t, "member-c.json"), cdc.ReasonUnknownTable, []string{"loyalty.public.orders"}},
		{"garbage", "loyalty.public.member", nil, []byte("\x00\x01garbage"), cdc.ReasonUndecodable, []string{"loyalty.public.member"}},
		{"truncated", "loyalty.public.member", nil, fixture(t, "member-c.json")[:300], cdc.ReasonUndecodable, nil},
		{"trailing data", "loyalty.public.member", nil, append(fixture(t, "member-c.json"), "{}"...), cdc.ReasonUndecodable, nil},
		{"bad decimal", "loyalty.public.transaction", nil,
			[]byte(`{"after":{"transaction_id":"x","gross_value":"12,50"},"source":{},"op":"c"}`), cdc.ReasonBadValue, []string{"gross_value"}},
		{"NaN decimal", "loyalty.public.transaction", nil,
			[]byte(`{"after":{"transaction_id":"x","gross_value":"NAN"},"source":{},"op":"c"}`), cdc.ReasonBadValue, []string{"gross_value"}},
		{"bad jsonb", "loyalty.public.member", nil, member(`"address":"{\"city\":"`), cdc.ReasonBadValue, []string{"address"}},
		{"bad timestamp", "loyalty.public.member", nil, member(`"created_at":"yesterday"`), cdc.ReasonBadValue, []string{"created_at"}},
		{"bool as string", "loyalty.public.member", nil, member(`"active":"yes"`), cdc.ReasonBadValue, []string{"active"}},
		{"int overflow", "loyalty.public.tier", nil,
			[]byte(`{"after":{"tier_id":"x","rank":99999999999999999999},"source":{},"op":"c"}`), cdc.ReasonBadValue, []string{"rank"}},
		{"unknown op", "loyalty.public.member", nil, []byte(`{"after":{"member_id":"x"},"op":"x"}`), cdc.ReasonBadValue, []string{"op"}},
		{"create without after", "loyalty.public.member", nil, []byte(`{"before":null,"after":null,"op":"c"}`), cdc.ReasonMissingField, []string{"after"}},
		{"delete without before", "loyalty.public.member", nil, []byte(`{"before":null,"op":"d"}`), cdc.ReasonMissingField, []string{"before"}},
		{"message without message", "loyalty.message", nil, []byte(`{"op":"m"}`), cdc.ReasonMissingField, []string{"message"}},
		{"schema without payload", "loyalty.public.member", nil, []byte(`{"schema":{"type":"struct"},"other":1}`), cdc.ReasonUndecodable, nil},
		{"bad key", "loyalty.public.member", []byte(`{"member_id":`), fixture(t, "member-c.json"), cdc.ReasonUndecodable, nil},
		{"Avro key without registry", "loyalty.public.member", []byte{0, 0, 0, 0, 1, 2}, fixture(t, "member-c.json"), cdc.ReasonUndecodable, []string{"registry"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.Decode(context.Background(), record(tc.topic, tc.key, tc.value))
			if got != nil {
				t.Fatalf("decoded %s", show(got))
			}
			assertPoison(t, err, tc.reason, tc.mentions...)
		})
	}
}

func TestRenamedTableAndColumn(t *testing.T) {
	src := loyalty(config.FormatJSON)
	src.Tables = map[string]config.Table{
		"member": {Name: "customers", Columns: map[string]string{"first_name": "fname", "member_id": "id"}},
	}
	d := newDecoder(t, src)
	value := strings.NewReplacer(`"first_name"`, `"fname"`, `"member_id"`, `"id"`, `"table": "member"`, `"table": "customers"`).
		Replace(string(fixture(t, "member-c.json")))
	got, err := d.Decode(context.Background(), record("loyalty.public.customers", []byte(`{"id":"`+anneID+`"}`), []byte(value)))
	if err != nil {
		t.Fatal(err)
	}
	want := documented()[0].want
	want.Source.Table, want.Source.Topic = "customers", "loyalty.public.customers"
	assertChange(t, got, want)

	_, err = d.Decode(context.Background(), record("loyalty.public.member", nil, []byte(value)))
	assertPoison(t, err, cdc.ReasonUnknownTable)
}

func TestUnknownColumnsByTheirOwnType(t *testing.T) {
	d := newDecoder(t, loyalty(config.FormatJSON))
	value := []byte(`{"after":{"member_id":"` + anneID + `","nickname":"Annie","visits":12,"score":1.5,"vip":true,"tags":["a","b"],"extra":{"x":1},"gone":null},"source":{},"op":"c"}`)
	got, err := d.Decode(context.Background(), record("loyalty.public.member", nil, value))
	if err != nil {
		t.Fatal(err)
	}
	want := &cdc.Row{Columns: []cdc.Column{
		col("member_id", cdc.StringValue(anneID)),
		col("nickname", cdc.StringValue("Annie")),
		col("visits", cdc.IntValue(12)),
		col("score", cdc.DecimalValue("1.5")),
		col("vip", cdc.BoolValue(true)),
		col("tags", cdc.JSONValue(`["a","b"]`)),
		col("extra", cdc.JSONValue(`{"x":1}`)),
		col("gone", cdc.Value{}),
	}}
	if !reflect.DeepEqual(got.After, want) {
		t.Fatalf("after\n got: %s\nwant: %s", showRow(got.After), showRow(want))
	}
}

func TestDocumentationExampleVerbatim(t *testing.T) {
	// The create event and key of Debezium's documentation, for a table outside the reference
	// schema that a deployment maps in: columns are read by their own types.
	d := newDecoder(t, config.Source{TopicPrefix: "PostgreSQL_server", Schema: "public", Format: config.FormatJSON,
		Tables: map[string]config.Table{"customers": {}}})
	got, err := d.Decode(context.Background(), record("PostgreSQL_server.public.customers",
		fixture(t, "doc-customers-key.json"), fixture(t, "doc-customers-c.json")))
	if err != nil {
		t.Fatal(err)
	}
	want := &cdc.Change{Table: "customers", Op: cdc.OpCreate, TsMs: 1559033904863,
		Key: &cdc.Row{Columns: []cdc.Column{col("id", cdc.StringValue("1"))}},
		After: &cdc.Row{Columns: []cdc.Column{col("id", cdc.IntValue(1)), col("first_name", cdc.StringValue("Anne")),
			col("last_name", cdc.StringValue("Kretchmar")), col("email", cdc.StringValue("annek@noanswer.org"))}},
		Source: cdc.Source{TsMs: 1559033904863, Snapshot: "true", DB: "postgres", Schema: "public", Table: "customers",
			TxID: 555, LSN: 24023128, Topic: "PostgreSQL_server.public.customers", Partition: 2, Offset: 4711}}
	assertChange(t, got, want)
}

func TestEscapesAndPayloadFirst(t *testing.T) {
	d := newDecoder(t, loyalty(config.FormatJSON))
	// Payload before schema is unusual but valid; escapes include a surrogate pair.
	value := []byte(`{"payload":{"after":{"member_id":"` + anneID + `","first_name":"Zo\u00eb \"Z\" \\ \ud83d\ude00\n"},"source":{},"op":"c"},` +
		`"schema":` + string(fixture(t, "member.schema.json")) + `}`)
	got, err := d.Decode(context.Background(), record("loyalty.public.member", nil, value))
	if err != nil {
		t.Fatal(err)
	}
	if v := got.After.Get("first_name").Str; v != "Zoë \"Z\" \\ 😀\n" {
		t.Fatalf("first_name = %q", v)
	}
}

func TestConcurrentDecodesShareSchemaCache(t *testing.T) {
	d := newDecoder(t, loyalty(config.FormatJSON))
	value := wrap(fixture(t, "member.schema.json"), fixture(t, "member-u.json"))
	want := documented()[1].want
	want.Key = nil
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 50 {
				got, err := d.Decode(context.Background(), record("loyalty.public.member", nil, value))
				if err == nil && !reflect.DeepEqual(got, want) {
					err = errors.New("decoded change differs: " + show(got))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestNewDecoderRejectsBadConfig(t *testing.T) {
	for name, src := range map[string]config.Source{
		"no prefix":   {Schema: "public"},
		"no schema":   {TopicPrefix: "loyalty"},
		"bad format":  {TopicPrefix: "loyalty", Schema: "public", Format: "xml"},
		"no registry": {TopicPrefix: "loyalty", Schema: "public", Format: config.FormatAvro},
		"two tables on one topic": {TopicPrefix: "loyalty", Schema: "public",
			Tables: map[string]config.Table{"member": {Name: "tier"}}},
		"two columns on one column": {TopicPrefix: "loyalty", Schema: "public",
			Tables: map[string]config.Table{"member": {Columns: map[string]string{"email": "phone"}}}},
	} {
		if _, err := cdc.NewDecoder(src, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestUnavailableInEveryEncoding(t *testing.T) {
	d := newDecoder(t, loyalty(config.FormatJSON))
	const text, bytes = `"__debezium_unavailable_value"`, `"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ=="`
	for name, tc := range map[string]struct {
		topic, value string
		columns      []string
	}{
		"text, jsonb, timestamptz and string decimal": {"loyalty.public.transaction",
			`{"op":"u","source":{},"after":{"transaction_id":"t1","document_number":` + text + `,"customer_data":` + text +
				`,"purchased_at":` + text + `,"gross_value":` + text + `}}`,
			[]string{"document_number", "customer_data", "purchased_at", "gross_value"}},
		"precise decimal bytes without schema": {"loyalty.public.transaction",
			`{"op":"u","source":{},"after":{"transaction_id":"t1","gross_value":` + bytes + `}}`, []string{"gross_value"}},
		"VariableScaleDecimal": {"loyalty.public.transaction",
			`{"op":"u","source":{},"after":{"transaction_id":"t1","gross_value":{"scale":0,"value":` + bytes + `}}}`, []string{"gross_value"}},
		"Decimal with scale": {"loyalty.public.wallet", string(wrap(fixture(t, "wallet-fixed.schema.json"),
			[]byte(`{"op":"u","source":{},"after":{"wallet_id":"w1","active_units":`+bytes+`}}`))), []string{"active_units"}},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := d.Decode(context.Background(), record(tc.topic, nil, []byte(tc.value)))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tc.columns {
				if v := got.After.Get(c); v.Kind != cdc.Unavailable {
					t.Errorf("%s = %+v, want unavailable", c, v)
				}
			}
		})
	}
}
