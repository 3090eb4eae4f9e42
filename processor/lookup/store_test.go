package lookup_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
	"github.com/loyaltyhooks/loyaltyhooks/processor/lookup"
)

func memberRow(email string) *cdc.Row {
	return &cdc.Row{Columns: []cdc.Column{
		{Name: "member_id", Value: cdc.StringValue("m-1")},
		{Name: "email", Value: cdc.StringValue(email)},
		{Name: "active", Value: cdc.BoolValue(true)},
		{Name: "registered_at", Value: cdc.TimeValue(time.Date(2025, 3, 1, 10, 0, 0, 123000, time.UTC))},
		{Name: "birth_date", Value: cdc.DateValue(10000)},
		{Name: "address", Value: cdc.JSONValue(`{"city":"Kraków"}`)},
		{Name: "phone", Value: cdc.Value{}},
		{Name: "referral_token", Value: cdc.UnavailableValue()},
		{Name: "points", Value: cdc.DecimalValue("-12.5")},
		{Name: "rank", Value: cdc.IntValue(-3)},
	}}
}

func TestRowEncodingRoundTrip(t *testing.T) {
	want := memberRow("a@example.com")
	got, err := lookup.DecodeRow(lookup.AppendRow(nil, want))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	if _, err := lookup.DecodeRow([]byte{9, 1}); err == nil {
		t.Fatal("unknown version accepted")
	}
	b := lookup.AppendRow(nil, want)
	if _, err := lookup.DecodeRow(b[:len(b)-3]); err == nil {
		t.Fatal("truncated row accepted")
	}
}

func TestStoreFetchFlush(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	store := lookup.NewStore(srv.Client(), "lh-test:")

	// A batch writes a member through a change and deletes a tier.
	v := lookup.NewView()
	ins := &cdc.Change{Table: "member", Op: cdc.OpCreate, After: memberRow("a@example.com")}
	if !lookup.Record(v, ins) {
		t.Fatal("member change not recorded")
	}
	del := &cdc.Change{Table: "tier", Op: cdc.OpDelete,
		Key:    &cdc.Row{Columns: []cdc.Column{{Name: "tier_id", Value: cdc.StringValue("t-1")}}},
		Before: &cdc.Row{Columns: []cdc.Column{{Name: "tier_id", Value: cdc.StringValue("t-1")}}}}
	lookup.Record(v, del)
	if lookup.Record(v, &cdc.Change{Table: "member_code", Op: cdc.OpCreate, After: &cdc.Row{}}) {
		t.Fatal("member_code is not a lookup table")
	}
	if err := store.Flush(ctx, v); err != nil {
		t.Fatal(err)
	}
	if n := srv.Client().Exists(ctx, "lh-test:lookup:member:m-1").Val(); n != 1 {
		t.Fatalf("member row not stored under its key")
	}

	// The next batch sees it, and misses what is not there.
	next := lookup.NewView()
	refs := []lookup.Ref{{"member", "m-1"}, {"member", "m-1"}, {"tier", "t-1"}, {"tenant", ""}}
	if err := store.Fetch(ctx, next, refs); err != nil {
		t.Fatal(err)
	}
	if got := next.Row("member", "m-1"); !reflect.DeepEqual(got, memberRow("a@example.com")) {
		t.Fatalf("fetched member = %+v", got)
	}
	if got := next.Row("tier", "t-1"); got != nil {
		t.Fatalf("deleted tier fetched as %+v", got)
	}
	if m := next.Misses(); m["tier"] != 1 || m["member"] != 0 {
		t.Fatalf("misses = %v", m)
	}

	// An update later in a batch wins over the fetched row for the changes after it.
	upd := &cdc.Change{Table: "member", Op: cdc.OpUpdate, Before: memberRow("a@example.com"), After: memberRow("b@example.com")}
	lookup.Record(next, upd)
	if got := next.Row("member", "m-1").Get("email").Str; got != "b@example.com" {
		t.Fatalf("overlay email = %q", got)
	}
}

func TestStoreFetchFailsWhenRedisIsDown(t *testing.T) {
	srv := redistest.Start(t)
	store := lookup.NewStore(srv.Client(), "lh-test:")
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := store.Fetch(ctx, lookup.NewView(), []lookup.Ref{{"member", "m-1"}}); err == nil {
		t.Fatal("fetch from a stopped Redis succeeded")
	}
}

// TestRecordKeepsKnownValues checks that an unavailable column never replaces a known value:
// it comes from the before image, else from the row already in the view.
func TestRecordKeepsKnownValues(t *testing.T) {
	v := lookup.NewView()
	ref := lookup.Ref{Table: "unit_transfer", Key: "t-1"}
	transfer := func(pending bool, cause cdc.Value) *cdc.Row {
		return &cdc.Row{Columns: []cdc.Column{
			{Name: "transfer_id", Value: cdc.StringValue("t-1")},
			{Name: "pending", Value: cdc.BoolValue(pending)},
			{Name: "action_cause", Value: cause},
		}}
	}
	v.Load(ref, transfer(true, cdc.JSONValue(`{"campaignId":"c-1"}`)))

	// Before image known: its value wins.
	lookup.Record(v, &cdc.Change{Table: "unit_transfer", Op: cdc.OpUpdate,
		Before: transfer(true, cdc.JSONValue(`{"campaignId":"c-2"}`)), After: transfer(false, cdc.UnavailableValue())})
	if got := v.Row("unit_transfer", "t-1").Get("action_cause").Str; got != `{"campaignId":"c-2"}` {
		t.Fatalf("from the before image: action_cause = %q", got)
	}
	// Both images unavailable: the stored value stays.
	lookup.Record(v, &cdc.Change{Table: "unit_transfer", Op: cdc.OpUpdate,
		Before: transfer(false, cdc.UnavailableValue()), After: transfer(true, cdc.UnavailableValue())})
	row := v.Row("unit_transfer", "t-1")
	if got := row.Get("action_cause").Str; got != `{"campaignId":"c-2"}` || !row.Get("pending").Bool() {
		t.Fatalf("from the stored row: %+v", row)
	}
	// Nothing known anywhere: the marker stays, meaning "not known".
	lookup.Record(v, &cdc.Change{Table: "wallet", Op: cdc.OpCreate, After: &cdc.Row{Columns: []cdc.Column{
		{Name: "wallet_id", Value: cdc.StringValue("w-1")}, {Name: "active_units", Value: cdc.UnavailableValue()}}}})
	if k := v.Row("wallet", "w-1").Get("active_units").Kind; k != cdc.Unavailable {
		t.Fatalf("unknown value became kind %d", k)
	}
}

// TestStoredOnlyForUnavailableColumns checks that a change asks the store for its own row only
// when its after image leaves a column unavailable, and that the value stored by an earlier
// batch then fills that column.
func TestStoredOnlyForUnavailableColumns(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	store := lookup.NewStore(srv.Client(), "lh-test:")
	transfer := func(pending bool, cause cdc.Value) *cdc.Row {
		return &cdc.Row{Columns: []cdc.Column{
			{Name: "transfer_id", Value: cdc.StringValue("t-1")},
			{Name: "pending", Value: cdc.BoolValue(pending)},
			{Name: "action_cause", Value: cause},
		}}
	}
	ins := &cdc.Change{Table: "unit_transfer", Op: cdc.OpCreate, After: transfer(true, cdc.JSONValue(`{"campaignId":"c-1"}`))}
	if ref, ok := lookup.Stored(ins); ok {
		t.Fatalf("an insert with its row whole asks for %v", ref)
	}
	whole := &cdc.Change{Table: "unit_transfer", Op: cdc.OpUpdate, Before: ins.After, After: transfer(false, cdc.JSONValue(`{}`))}
	if ref, ok := lookup.Stored(whole); ok {
		t.Fatalf("an update with its row whole asks for %v", ref)
	}
	if ref, ok := lookup.Stored(&cdc.Change{Table: "order", Op: cdc.OpUpdate, After: transfer(false, cdc.UnavailableValue())}); ok {
		t.Fatalf("a change to a table that is not a lookup table asks for %v", ref)
	}

	v := lookup.NewView()
	lookup.Record(v, ins)
	if err := store.Flush(ctx, v); err != nil {
		t.Fatal(err)
	}

	// The next batch: an update whose action_cause is unavailable in both images.
	upd := &cdc.Change{Table: "unit_transfer", Op: cdc.OpUpdate,
		Before: transfer(true, cdc.UnavailableValue()), After: transfer(false, cdc.UnavailableValue())}
	ref, ok := lookup.Stored(upd)
	if want := (lookup.Ref{Table: "unit_transfer", Key: "t-1"}); !ok || ref != want {
		t.Fatalf("Stored = %v, %v; want %v", ref, ok, want)
	}
	v = lookup.NewView()
	if err := store.Fetch(ctx, v, []lookup.Ref{ref}); err != nil {
		t.Fatal(err)
	}
	lookup.Record(v, upd)
	row := v.Row("unit_transfer", "t-1")
	if got := row.Get("action_cause").Str; got != `{"campaignId":"c-1"}` || row.Get("pending").Bool() {
		t.Fatalf("row after the update: %+v", row)
	}
}
