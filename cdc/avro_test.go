package cdc_test

import (
	"context"
	"math/big"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
)

// avroRegistry is an in-memory schema registry that counts the schema fetches by id and can be
// made to fail.
type avroRegistry struct {
	*srfake.Registry
	client  *sr.Client
	fetches atomic.Int32
	failing atomic.Bool
}

func newAvroRegistry(t testing.TB) *avroRegistry {
	t.Helper()
	r := &avroRegistry{Registry: srfake.New()}
	t.Cleanup(r.Close)
	r.Intercept(func(w http.ResponseWriter, req *http.Request) bool {
		if !strings.HasPrefix(req.URL.Path, "/schemas/ids/") {
			return false
		}
		r.fetches.Add(1)
		if r.failing.Load() {
			http.Error(w, `{"error_code":50001,"message":"store unavailable"}`, http.StatusInternalServerError)
			return true
		}
		return false
	})
	var err error
	if r.client, err = sr.NewClient(sr.URLs(r.URL())); err != nil {
		t.Fatal(err)
	}
	return r
}

// register registers a testdata schema and returns a function that frames natives with it.
func (r *avroRegistry) register(t *testing.T, subject, file string) func(native any) []byte {
	t.Helper()
	text := string(fixture(t, file))
	codec, err := goavro.NewCodec(text)
	if err != nil {
		t.Fatal(err)
	}
	header := r.header(t, subject, file)
	return func(native any) []byte {
		b, err := codec.BinaryFromNative(header, native)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// header registers a testdata schema and returns the Confluent header of its id.
func (r *avroRegistry) header(t testing.TB, subject, file string) []byte {
	t.Helper()
	id, _, err := r.RegisterSchema(subject, sr.Schema{Schema: string(fixture(t, file)), Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := (&sr.ConfluentHeader{}).AppendEncode(nil, id, nil)
	return b
}

func avroDecoder(t testing.TB, r *avroRegistry) *cdc.Decoder {
	t.Helper()
	d, err := cdc.NewDecoder(loyalty(config.FormatAvro), r.client)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func union(branch string, v any) any { return map[string]any{branch: v} }

func avroSource(snapshot string) map[string]any {
	return map[string]any{
		"version": "3.0.0.Final", "connector": "postgresql", "name": "loyalty", "ts_ms": int64(1742741274875),
		"snapshot": union("string", snapshot), "db": "loyalty", "sequence": union("string", `[null,"26738904"]`),
		"ts_us": union("long", int64(1742741274875866)), "ts_ns": union("long", int64(1742741274875866000)),
		"schema": "public", "table": "member", "txId": union("long", int64(752)), "lsn": union("long", int64(26738904)),
		"xmin": nil,
	}
}

func avroEnvelope(op string, before, after any, snapshot string) map[string]any {
	return map[string]any{"before": before, "after": after, "source": avroSource(snapshot), "transaction": nil,
		"op": op, "ts_ms": union("long", int64(1742741275319)), "ts_us": nil, "ts_ns": nil}
}

func TestAvroMemberUpdate(t *testing.T) {
	reg := newAvroRegistry(t)
	value := reg.register(t, "loyalty.public.member-value", "member.avsc")
	key := reg.register(t, "loyalty.public.member-key", "member.key.avsc")
	registered := time.Date(2024, 5, 28, 9, 38, 24, 863123000, time.UTC)
	row := func(name string, attrs any) map[string]any {
		return map[string]any{
			"member_id": anneID, "tenant_id": union("string", "0b0c9d1e-1111-4a2b-9c3d-000000000001"),
			"active": union("boolean", true), "first_name": union("string", name),
			"birth_date": union("int", int32(7305)), "registered_at": union("string", "2024-05-28T09:38:24.863123Z"),
			"address": union("string", `{"city": "Kraków"}`), "custom_attributes": attrs,
			"created_at": union("long", registered.UnixMicro()),
			"updated_at": union("long.timestamp-millis", registered.Truncate(time.Millisecond)),
			"nickname":   nil,
			"visits":     union("int", int32(-3)),
			"tags":       union("array", []any{"a", "b\"c"}),
			"score":      union("float", float32(0.1)),
		}
	}
	record := record("loyalty.public.member",
		key(map[string]any{"member_id": anneID}),
		value(avroEnvelope("u", union("loyalty.public.member.Value", row("Anne", union("string", "[]"))),
			union("loyalty.public.member.Value", row("Anne Marie", union("string", cdc.Placeholder))), "false")))

	got, err := avroDecoder(t, reg).Decode(context.Background(), record)
	if err != nil {
		t.Fatal(err)
	}
	wantRow := func(name string, attrs cdc.Value) *cdc.Row {
		return &cdc.Row{Columns: []cdc.Column{
			col("member_id", cdc.StringValue(anneID)),
			col("tenant_id", cdc.StringValue("0b0c9d1e-1111-4a2b-9c3d-000000000001")),
			col("active", cdc.BoolValue(true)),
			col("first_name", cdc.StringValue(name)),
			col("birth_date", cdc.DateValue(7305)),
			col("registered_at", cdc.TimeValue(registered)),
			col("address", cdc.JSONValue(`{"city": "Kraków"}`)),
			col("custom_attributes", attrs),
			col("created_at", cdc.TimeValue(registered)),
			col("updated_at", cdc.TimeValue(registered.Truncate(time.Millisecond))),
			col("nickname", cdc.Value{}),
			col("visits", cdc.IntValue(-3)),
			col("tags", cdc.JSONValue(`["a","b\"c"]`)),
			col("score", cdc.DecimalValue("0.1")), // a float, not its double widening 0.10000000149011612
		}}
	}
	want := &cdc.Change{Table: "member", Op: cdc.OpUpdate, TsMs: 1742741275319, Key: memberKey(),
		Before: wantRow("Anne", cdc.JSONValue("[]")), After: wantRow("Anne Marie", cdc.UnavailableValue()),
		Source: cdc.Source{TsMs: 1742741274875, Snapshot: "false", DB: "loyalty", Schema: "public", Table: "member",
			TxID: 752, LSN: 26738904, Topic: "loyalty.public.member", Partition: 2, Offset: 4711}}
	assertChange(t, got, want)
}

func TestAvroDecimals(t *testing.T) {
	reg := newAvroRegistry(t)
	value := reg.register(t, "loyalty.public.wallet-value", "wallet.avsc")
	vsd := func(scale int32, unscaled []byte) any {
		return union("io.debezium.data.VariableScaleDecimal", map[string]any{"scale": scale, "value": unscaled})
	}
	after := map[string]any{
		"wallet_id":     walletID,
		"active_units":  vsd(2, []byte{0xfb, 0x1e}), // -1250
		"pending_units": union("bytes.decimal", big.NewRat(-5, 100)),
		"blocked_units": union("double", 1.0e-4),
		"expired_units": union("string", "0100.500"),
		"spent_units":   vsd(0, []byte(cdc.Placeholder)),
		"earned_units":  union("bytes.decimal", big.NewRat(0, 1)),
	}
	got, err := avroDecoder(t, reg).Decode(context.Background(),
		record("loyalty.public.wallet", nil, value(avroEnvelope("c", nil, union("loyalty.public.wallet.Value", after), "false"))))
	if err != nil {
		t.Fatal(err)
	}
	want := &cdc.Row{Columns: []cdc.Column{
		col("wallet_id", cdc.StringValue(walletID)),
		col("active_units", cdc.DecimalValue("-12.5")),
		col("pending_units", cdc.DecimalValue("-0.05")),
		col("blocked_units", cdc.DecimalValue("0.0001")),
		col("expired_units", cdc.DecimalValue("100.5")),
		col("spent_units", cdc.UnavailableValue()),
		col("earned_units", cdc.DecimalValue("0")),
	}}
	if !reflect.DeepEqual(got.After, want) {
		t.Fatalf("after\n got: %s\nwant: %s", showRow(got.After), showRow(want))
	}
}

func TestAvroSchemaFetchedOncePerID(t *testing.T) {
	reg := newAvroRegistry(t)
	value := reg.register(t, "loyalty.public.member-value", "member.avsc")
	key := reg.register(t, "loyalty.public.member-key", "member.key.avsc")
	d := avroDecoder(t, reg)
	rec := record("loyalty.public.member", key(map[string]any{"member_id": anneID}),
		value(avroEnvelope("r", nil, union("loyalty.public.member.Value", map[string]any{"member_id": anneID}), "true")))
	// A Value record needs every field; goavro fills the optional ones with their null default.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			if _, err := d.Decode(context.Background(), rec); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := reg.fetches.Load(); n != 2 {
		t.Fatalf("%d schema fetches for one key and one value schema, want 2", n)
	}
}

func TestAvroRegistryFailures(t *testing.T) {
	reg := newAvroRegistry(t)
	value := reg.register(t, "loyalty.public.member-value", "member.avsc")
	d := avroDecoder(t, reg)
	rec := record("loyalty.public.member", nil,
		value(avroEnvelope("c", nil, union("loyalty.public.member.Value", map[string]any{"member_id": anneID}), "false")))

	reg.failing.Store(true)
	_, err := d.Decode(context.Background(), rec)
	if err == nil {
		t.Fatal("no error while the registry fails")
	}
	if p, ok := cdc.IsPoison(err); ok {
		t.Fatalf("a registry outage is poison (%s): the batch would be dead-lettered instead of retried", p.Reason)
	}
	reg.failing.Store(false)
	if _, err := d.Decode(context.Background(), rec); err != nil {
		t.Fatalf("after the registry recovered: %v", err)
	}

	unknown := append([]byte{0, 0, 0, 0x03, 0xe7}, rec.Value[5:]...) // schema id 999
	_, err = d.Decode(context.Background(), record("loyalty.public.member", nil, unknown))
	assertPoison(t, err, cdc.ReasonUnknownSchemaID, "999")

	for name, v := range map[string][]byte{
		"JSON on an Avro topic": fixture(t, "member-c.json"),
		"short header":          {0, 0, 0},
		"truncated body":        rec.Value[:len(rec.Value)-3],
		"trailing bytes":        append(append([]byte{}, rec.Value...), 1, 2),
	} {
		_, err := d.Decode(context.Background(), record("loyalty.public.member", nil, v))
		if p, ok := cdc.IsPoison(err); !ok || p.Reason != cdc.ReasonUndecodable {
			t.Errorf("%s: %v, want undecodable", name, err)
		}
	}

	down := srfake.New()
	client, err := sr.NewClient(sr.URLs(down.URL()))
	if err != nil {
		t.Fatal(err)
	}
	down.Close()
	offline, err := cdc.NewDecoder(loyalty(config.FormatAvro), client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := offline.Decode(context.Background(), rec); err == nil {
		t.Fatal("no error with the registry unreachable")
	} else if _, ok := cdc.IsPoison(err); ok {
		t.Fatalf("an unreachable registry is poison: %v", err)
	}
}

func TestAvroHeartbeatOnTableTopicIsSkipped(t *testing.T) {
	reg := newAvroRegistry(t)
	value := reg.register(t, "loyalty.public.member-value", "heartbeat.avsc")
	got, err := avroDecoder(t, reg).Decode(context.Background(),
		record("loyalty.public.member", nil, value(map[string]any{"ts_ms": int64(1714000000000)})))
	if got != nil || err != nil {
		t.Fatalf("got %s, %v; want a skip", show(got), err)
	}
}
