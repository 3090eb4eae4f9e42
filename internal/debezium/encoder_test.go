package debezium_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/debezium"
)

var (
	formats = []debezium.Format{debezium.JSON, debezium.JSONWithSchema, debezium.Avro}
	modes   = []string{debezium.DecimalString, debezium.DecimalDouble, debezium.DecimalPrecise}
)

// decimals exercise signs, zero, scales, doubles Java writes with an exponent (1.0E-4,
// 1.2345678E7) and, except for doubles, more digits than 64 bits hold.
var decimals = []string{"-12.5", "0", "100", "0.001", "1234567.89", "-0.75", "123456789012345678901234.5678",
	"0.0001", "12345678", "-98765432109876543210.01"}

func source(mapped bool) config.Source {
	src := config.Source{TopicPrefix: "loyalty", Schema: "public"}
	if mapped {
		src.Tables = map[string]config.Table{
			"member": {Name: "customers", Columns: map[string]string{"first_name": "fname", "birth_date": "born"}},
		}
	}
	return src
}

// value returns a value of type t; n varies it between columns and images.
func value(t cdc.ColumnType, n int, mode string) cdc.Value {
	switch t {
	case cdc.TypeUUID:
		return cdc.StringValue(fmt.Sprintf("6d0f5c0e-2f0a-4b8a-9a51-%012d", n))
	case cdc.TypeText:
		return cdc.StringValue(fmt.Sprintf("Zoë \"%d\" \\ tab\there\nnew line", n))
	case cdc.TypeInt:
		return cdc.IntValue(int64(n*7 - 20))
	case cdc.TypeBool:
		return cdc.BoolValue(n%2 == 0)
	case cdc.TypeNumeric:
		d := decimals[n%len(decimals)]
		if mode == debezium.DecimalDouble && len(d) > 16 {
			d = "42"
		}
		return cdc.DecimalValue(d)
	case cdc.TypeTimestamptz:
		base := time.Date(2024, 3, 1, 10, 0, 0, 123456000, time.UTC)
		return cdc.TimeValue(base.Add(time.Duration(n-3) * 97 * 24 * time.Hour))
	case cdc.TypeDate:
		return cdc.DateValue(int64(n*400 - 1000))
	case cdc.TypeJSONB:
		return cdc.JSONValue(fmt.Sprintf(`{"street":"Main \"%d\"","n":[1,2.5,null,true],"u":"Zoë"}`, n))
	}
	panic(t)
}

// row fills every column of def; unavailable marks the TOAST-able columns as not known.
func row(def *cdc.TableDef, n int, mode string, unavailable bool) *cdc.Row {
	r := &cdc.Row{}
	for i, c := range def.Columns {
		v := value(c.Type, n+i, mode)
		switch {
		case i == len(def.Columns)-1 && i > 1:
			v = cdc.Value{} // a null
		case unavailable && i > 0 && (c.Type == cdc.TypeText || c.Type == cdc.TypeJSONB ||
			(c.Type == cdc.TypeNumeric && mode != debezium.DecimalDouble)):
			v = cdc.UnavailableValue()
		}
		r.Columns = append(r.Columns, cdc.Column{Name: c.Name, Value: v})
	}
	return r
}

func keyOf(def *cdc.TableDef, r *cdc.Row) *cdc.Row {
	k := &cdc.Row{}
	for _, name := range def.Key {
		k.Columns = append(k.Columns, cdc.Column{Name: name, Value: r.Get(name)})
	}
	return k
}

func change(def *cdc.TableDef, op cdc.Op, mode string) *cdc.Change {
	ch := &cdc.Change{Table: def.Name, Op: op, TsMs: 1742741275319, Source: cdc.Source{
		TsMs: 1742741274875, Snapshot: "false", DB: "loyalty", Schema: "public", Table: def.Name,
		TxID: 752, LSN: 26738904,
	}}
	before, after := row(def, 1, mode, false), row(def, 2, mode, true)
	switch op {
	case cdc.OpCreate:
		ch.After = before
	case cdc.OpRead:
		ch.After, ch.Source.Snapshot = before, "last"
	case cdc.OpUpdate:
		ch.Before, ch.After = before, after
	case cdc.OpDelete:
		ch.Before = before
	}
	if r := ch.Row(); r != nil {
		ch.Key = keyOf(def, r)
	}
	return ch
}

type harness struct {
	enc *debezium.Encoder
	dec *cdc.Decoder
	src config.Source
}

func newHarness(t *testing.T, format debezium.Format, mode string, mapped bool) *harness {
	t.Helper()
	src := source(mapped)
	var registry *sr.Client
	src.Format = config.FormatJSON
	if format == debezium.Avro {
		reg := srfake.New()
		t.Cleanup(reg.Close)
		var err error
		if registry, err = sr.NewClient(sr.URLs(reg.URL())); err != nil {
			t.Fatal(err)
		}
		src.Format = config.FormatAvro
	}
	enc, err := debezium.NewEncoder(debezium.Options{Format: format, DecimalMode: mode, Source: src, Registry: registry})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := cdc.NewDecoder(src, registry)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{enc: enc, dec: dec, src: src}
}

// roundTrip encodes ch, decodes the record and checks that the same change comes back.
func (h *harness) roundTrip(t *testing.T, ch *cdc.Change, offset int64) *kgo.Record {
	t.Helper()
	ctx := context.Background()
	topic, key, value, err := h.enc.Encode(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	rec := &kgo.Record{Topic: topic, Key: key, Value: value, Partition: 3, Offset: offset}
	got, err := h.dec.Decode(ctx, rec)
	if err != nil {
		t.Fatalf("decode %s: %v\nvalue: %q", ch.Op, err, value)
	}
	want := *ch
	want.Source.Topic, want.Source.Partition, want.Source.Offset = topic, 3, offset
	want.Source.Table = h.src.PhysicalTable(ch.Table)
	if ch.Op == cdc.OpMessage {
		want.Source.Schema, want.Source.Table, want.Table = "", "", ""
		want.Key = &cdc.Row{Columns: []cdc.Column{{Name: "prefix", Value: cdc.StringValue(ch.Message.Prefix)}}}
	}
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("%s round trip differs\n got: %s\nwant: %s\nvalue: %s", ch.Op, dump(got), dump(&want), value)
	}
	return rec
}

func dump(ch *cdc.Change) string {
	if ch == nil {
		return "<nil>"
	}
	s := fmt.Sprintf("%s %s key=%v src=%+v ts=%d msg=%+v", ch.Table, ch.Op, rowText(ch.Key), ch.Source, ch.TsMs, ch.Message)
	return s + fmt.Sprintf("\n  before=%v\n  after=%v", rowText(ch.Before), rowText(ch.After))
}

func rowText(r *cdc.Row) string {
	if r == nil {
		return "nil"
	}
	s := ""
	for _, c := range r.Columns {
		s += fmt.Sprintf("%s=%d:%q/%d ", c.Name, c.Value.Kind, c.Value.Str, c.Value.Int)
	}
	return s
}

func TestRoundTripEveryTableFormatAndDecimalMode(t *testing.T) {
	for _, format := range formats {
		for _, mode := range modes {
			t.Run(format.String()+"/"+mode, func(t *testing.T) {
				h := newHarness(t, format, mode, false)
				for i := range cdc.Reference {
					def := &cdc.Reference[i]
					for j, op := range []cdc.Op{cdc.OpCreate, cdc.OpUpdate, cdc.OpDelete, cdc.OpRead} {
						h.roundTrip(t, change(def, op, mode), int64(i*10+j))
					}
				}
			})
		}
	}
}

func TestRoundTripTruncateMessageAndMapping(t *testing.T) {
	member, _ := cdc.ReferenceTable("member")
	for _, format := range formats {
		t.Run(format.String(), func(t *testing.T) {
			h := newHarness(t, format, debezium.DecimalPrecise, true)
			ch := change(member, cdc.OpUpdate, debezium.DecimalPrecise)
			rec := h.roundTrip(t, ch, 1)
			if rec.Topic != "loyalty.public.customers" {
				t.Fatalf("topic %s, want the mapped table's", rec.Topic)
			}

			trunc := change(member, cdc.OpTruncate, debezium.DecimalPrecise)
			trunc.Key = nil
			if rec := h.roundTrip(t, trunc, 2); rec.Key != nil {
				t.Fatalf("truncate has key %q", rec.Key)
			}

			msg := &cdc.Change{Op: cdc.OpMessage, TsMs: 1559033904961, Message: &cdc.Message{Prefix: "foo", Content: []byte("bar")},
				Source: cdc.Source{TsMs: 1559033904863, Snapshot: "false", DB: "postgres", TxID: 556, LSN: 46523128}}
			if rec := h.roundTrip(t, msg, 3); rec.Topic != "loyalty.message" {
				t.Fatalf("message topic %s", rec.Topic)
			}

			topic, key, err := h.enc.Tombstone(ch)
			if err != nil {
				t.Fatal(err)
			}
			got, err := h.dec.Decode(context.Background(), &kgo.Record{Topic: topic, Key: key})
			if got != nil || err != nil {
				t.Fatalf("tombstone decoded to %v, %v", got, err)
			}
		})
	}
}
