package timer

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

func deferral(row string, offset int64, at time.Time, first bool, attempt int) Deferral {
	d := &Deferred{Topic: "loyalty.public.member_code", Partition: 2, Offset: offset, Timestamp: t0,
		Key: []byte(`{"code_id":"c"}`), Value: []byte(`{"op":"c"}`), Headers: []Header{{Key: "h", Value: []byte{0, 1}}},
		Row: row, Triggers: []string{"CustomerWasRegisteredWithoutActivation"}, Waiting: []string{"member"},
		Since: t0, Attempt: attempt}
	return Deferral{ID: d.ID(), Row: row, At: at, First: first, Record: Due{Kind: KindDeferred, Deferred: d}.Encode(),
		Hold: Hold{ID: d.ID(), Position: 1000 + offset, Since: t0}}
}

func TestDeferredRecord(t *testing.T) {
	want := deferral("member_code/c-1", 7, t0, true, 3)
	got, err := DecodeDue(want.Record)
	if err != nil {
		t.Fatal(err)
	}
	d := got.Deferred
	if got.Kind != KindDeferred || d == nil || d.ID() != want.ID || d.Row != "member_code/c-1" || d.Attempt != 3 ||
		!d.Since.Equal(t0) || string(d.Value) != `{"op":"c"}` || string(d.Headers[0].Value) != "\x00\x01" ||
		fmt.Sprint(d.Triggers) != "[CustomerWasRegisteredWithoutActivation]" || fmt.Sprint(d.Waiting) != "[member]" {
		t.Fatalf("round trip: %+v %+v", got, d)
	}
	for _, bad := range []string{
		`{"v":1,"kind":"deferred","topic":"t","row":"r","triggers":[],"since":"2026-01-01T00:00:00Z","attempt":1}`,
		`{"v":1,"kind":"deferred","topic":"t","row":"r","triggers":["X"],"since":"2026-01-01T00:00:00Z","attempt":0}`,
		`{"v":1,"kind":"deferred","topic":"","row":"r","triggers":["X"],"since":"2026-01-01T00:00:00Z","attempt":1}`,
	} {
		if _, err := DecodeDue([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// scanAll scans every shard of deferred changes.
func scanAll(t *testing.T, s *Store, now time.Time, limit int) []dueDeferral {
	t.Helper()
	shards := OwnedShards([]int32{0}, 1)
	found, err := s.scanDeferred(context.Background(), now, shards, limit)
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func ids(ds []dueDeferral) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.id)
	}
	slices.Sort(out)
	return out
}

// TestDeferredLifecycle: a deferred change is found once due, with its record; a replayed first
// deferral keeps the stored attempt; a later attempt replaces it; taking a found attempt leaves
// one stored meanwhile; holds come and go with the row.
func TestDeferredLifecycle(t *testing.T) {
	store, _ := newStore(t)
	ctx := context.Background()
	const row = "member_code/c-1"
	first := deferral(row, 7, t0.Add(time.Second), true, 1)
	other := deferral("wallet/w-1", 8, t0.Add(3*time.Second), true, 1)
	if err := store.Defer(ctx, []Deferral{first, other}, nil, time.Minute); err != nil {
		t.Fatal(err)
	}
	if found := scanAll(t, store, t0, 10); len(found) != 0 {
		t.Fatalf("found %v before it is due", ids(found))
	}
	// The batch is replayed later: its first deferral does not start the wait over.
	replay := deferral(row, 7, t0.Add(5*time.Second), true, 1)
	if err := store.Defer(ctx, []Deferral{replay}, nil, time.Minute); err != nil {
		t.Fatal(err)
	}
	if at, ok, err := store.PendingDeferral(ctx, row, first.ID); err != nil || !ok || !at.Equal(first.At) {
		t.Fatalf("after a replayed first deferral: due %v %v %v, want %v", at, ok, err, first.At)
	}
	found := scanAll(t, store, t0.Add(2*time.Second), 10)
	if fmt.Sprint(ids(found)) != fmt.Sprint([]string{first.ID}) || string(found[0].record) != string(first.Record) {
		t.Fatalf("found %v", found)
	}
	// The attempt is stored again (the loop read an earlier due record) before it is taken.
	second := deferral(row, 7, t0.Add(4*time.Second), false, 2)
	if err := store.Defer(ctx, []Deferral{second}, nil, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := store.takeDeferred(ctx, found); err != nil {
		t.Fatal(err)
	}
	if at, ok, _ := store.PendingDeferral(ctx, row, first.ID); !ok || !at.Equal(second.At) {
		t.Fatalf("the next attempt was taken with the found one: %v %v", at, ok)
	}
	found = scanAll(t, store, t0.Add(10*time.Second), 1)
	if len(found) != 1 {
		t.Fatalf("limit 1 found %d", len(found))
	}
	found = scanAll(t, store, t0.Add(10*time.Second), 10)
	if fmt.Sprint(ids(found)) != fmt.Sprint(ids([]dueDeferral{{id: first.ID}, {id: other.ID}})) {
		t.Fatalf("found %v", ids(found))
	}
	if err := store.takeDeferred(ctx, found); err != nil {
		t.Fatal(err)
	}
	if found := scanAll(t, store, t0.Add(time.Hour), 10); len(found) != 0 {
		t.Fatalf("%v left after taking", ids(found))
	}

	// Holds stay until released, whatever happens to the attempts.
	holds, err := store.Holds(ctx, []string{row, "wallet/w-1", "member/none"})
	if err != nil {
		t.Fatal(err)
	}
	if h := holds[row]; len(h) != 1 || h[0] != first.Hold {
		t.Fatalf("holds of %s: %+v, want %+v", row, h, first.Hold)
	}
	if len(holds["member/none"]) != 0 || len(holds["wallet/w-1"]) != 1 {
		t.Fatalf("holds %+v", holds)
	}
	if err := store.Defer(ctx, nil, []Release{{ID: first.ID, Row: row}}, 0); err != nil {
		t.Fatal(err)
	}
	if holds, _ := store.Holds(ctx, []string{row}); len(holds[row]) != 0 {
		t.Fatalf("released hold still there: %+v", holds)
	}
}
