package timer

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
)

const (
	tenant  = "0a000000-0000-4000-8000-000000000001"
	trigger = "PointsWillExpire"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func entity(i int) string { return fmt.Sprintf("6a000000-0000-4000-8000-%012d", i) }

func day(n float64) time.Time { return t0.Add(time.Duration(n * float64(24*time.Hour))) }

// everySet is a scan of every set of one tenant and trigger, with one horizon.
func everySet(horizon time.Time) []Scan {
	scans := make([]Scan, Shards)
	for s := range scans {
		scans[s] = Scan{Set: Set{Tenant: tenant, Trigger: trigger, Shard: s}, Horizon: horizon}
	}
	return scans
}

func dueEntities(res ScanResult) []string {
	var out []string
	for _, d := range res.Due {
		out = append(out, d.Entity+"@"+d.At.Format(time.RFC3339Nano))
	}
	slices.Sort(out)
	return out
}

func newStore(t *testing.T) (*Store, *redistest.Server) {
	srv := redistest.Start(t)
	return NewStore(srv.Client(), "t:"), srv
}

func TestStoreLifecycle(t *testing.T) {
	store, srv := newStore(t)
	ctx := context.Background()
	at := day(5).Add(123456 * time.Microsecond)
	write := func(ts ...Timer) {
		t.Helper()
		if err := store.Write(ctx, ts); err != nil {
			t.Fatal(err)
		}
	}
	timer := func(i int, at time.Time) Timer {
		return Timer{Tenant: tenant, Trigger: trigger, Entity: entity(i), At: at}
	}
	write(timer(1, at), timer(2, day(20)), timer(3, day(-0.1)), timer(4, day(2)),
		Timer{Tenant: tenant, Trigger: trigger, Entity: "transfer-fifteen", At: day(3)})

	if got, ok, err := store.Pending(ctx, tenant, trigger, entity(1)); err != nil || !ok || !got.Equal(at) {
		t.Fatalf("pending %v %v %v, want %v", got, ok, err, at)
	}
	res, err := store.Scan(ctx, t0, everySet(day(10)), 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{entity(1) + "@" + at.Format(time.RFC3339Nano), entity(4) + "@" + day(2).Format(time.RFC3339Nano),
		"transfer-fifteen@" + day(3).Format(time.RFC3339Nano)}
	slices.Sort(want)
	if got := dueEntities(res); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("due\n got %v\nwant %v", got, want)
	}
	if res.Expired[trigger] != 1 {
		t.Errorf("expired %v, want the one past its expiry", res.Expired)
	}
	if _, ok, _ := store.Pending(ctx, tenant, trigger, entity(3)); ok {
		t.Error("an expired timer is still pending")
	}

	// Entity 1 moves before its due record is acted on: the fired mark of the old expiry must
	// not remove the moved timer.
	write(timer(1, day(30)))
	if err := store.Fired(ctx, res.Due); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := store.Pending(ctx, tenant, trigger, entity(1)); !ok || !got.Equal(day(30)) {
		t.Errorf("moved timer: pending %v %v, want %v", got, ok, day(30))
	}
	if _, ok, _ := store.Pending(ctx, tenant, trigger, entity(4)); ok {
		t.Error("a fired timer is still pending")
	}
	// An expiry that came due and is scheduled again by a later change of its row does not
	// come due again, and is dropped; another expiry of the entity does come due.
	write(timer(4, day(2)), timer(5, day(4)))
	if res, err = store.Scan(ctx, t0, everySet(day(10)), 100); err != nil {
		t.Fatal(err)
	}
	if got := dueEntities(res); fmt.Sprint(got) != fmt.Sprint([]string{entity(5) + "@" + day(4).Format(time.RFC3339Nano)}) {
		t.Errorf("due after a repeat: %v", got)
	}
	if _, ok, _ := store.Pending(ctx, tenant, trigger, entity(4)); ok {
		t.Error("an expiry that already came due is pending again")
	}
	write(timer(4, day(4)))
	if res, err = store.Scan(ctx, t0, everySet(day(10)), 100); err != nil || len(res.Due) != 2 {
		t.Errorf("a new expiry of a fired entity: due %v, %v", dueEntities(res), err)
	}
	// Cancel.
	write(Timer{Tenant: tenant, Trigger: trigger, Entity: entity(2)})
	if _, ok, _ := store.Pending(ctx, tenant, trigger, entity(2)); ok {
		t.Error("a cancelled timer is still pending")
	}
	if ts, err := store.Tenants(ctx); err != nil || fmt.Sprint(ts) != fmt.Sprint([]string{tenant}) {
		t.Errorf("tenants %v %v", ts, err)
	}
	// Once every expiry has passed, a scan leaves neither timers nor fired marks.
	if _, err := store.Scan(ctx, day(60), everySet(day(70)), 100); err != nil {
		t.Fatal(err)
	}
	for s := range Shards {
		set := Set{Tenant: tenant, Trigger: trigger, Shard: s}
		if n := srv.Client().ZCard(ctx, store.timersKey(set)).Val() + srv.Client().ZCard(ctx, store.firedKey(set)).Val(); n != 0 {
			t.Errorf("shard %d keeps %d entries after every expiry passed", s, n)
		}
	}
}

// TestStoreScanIsBounded checks that a scan returns at most its limit, and that the next scans
// pick up the rest once the due timers are removed.
func TestStoreScanIsBounded(t *testing.T) {
	store, _ := newStore(t)
	ctx := context.Background()
	var ts []Timer
	for i := range 10 {
		ts = append(ts, Timer{Tenant: tenant, Trigger: trigger, Entity: entity(i), At: day(1 + float64(i)/10)})
	}
	if err := store.Write(ctx, ts); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, want := range []int{4, 4, 2, 0} {
		res, err := store.Scan(ctx, t0, everySet(day(10)), 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Due) != want {
			t.Fatalf("scan found %d, want %d", len(res.Due), want)
		}
		for _, d := range res.Due {
			if seen[d.Entity] {
				t.Fatalf("%s found twice", d.Entity)
			}
			seen[d.Entity] = true
		}
		if err := store.Fired(ctx, res.Due); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStoreReloadsScripts checks that a Redis that lost its script cache (a restart, a
// failover) is given the scripts again.
func TestStoreReloadsScripts(t *testing.T) {
	store, srv := newStore(t)
	ctx := context.Background()
	ts := []Timer{{Tenant: tenant, Trigger: trigger, Entity: entity(1), At: day(3)}}
	if err := store.Write(ctx, ts); err != nil {
		t.Fatal(err)
	}
	res, err := store.Scan(ctx, t0, everySet(day(10)), 10)
	if err != nil || len(res.Due) != 1 {
		t.Fatalf("scan: %v, %v", res.Due, err)
	}
	if err := srv.Client().ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := store.Fired(ctx, res.Due); err != nil {
		t.Fatalf("fired after a script flush: %v", err)
	}
	if _, ok, _ := store.Pending(ctx, tenant, trigger, entity(1)); ok {
		t.Error("the fired timer is still pending")
	}
}

func TestEntityForms(t *testing.T) {
	for _, id := range []string{entity(7), "6A000000-0000-4000-8000-000000000007", "42", "fifteen-chars!!", "sixteen-chars!!!", ""} {
		m := member(id)
		if got := entityOf(m); got != id {
			t.Errorf("%q stored as %q reads back as %q", id, m, got)
		}
		if id != entity(7) && len(m) == 16 {
			t.Errorf("%q stored in the UUID form", id)
		}
	}
	if len(member(entity(7))) != 16 {
		t.Error("a UUID is not stored as 16 bytes")
	}
}

// TestOwnedShards checks that the owners of a topic's partitions share every shard exactly once,
// whatever the partition count.
func TestOwnedShards(t *testing.T) {
	for _, partitions := range []int{1, 2, 6, 7, 64, 100} {
		owner := map[int]int{}
		for p := range partitions {
			for _, s := range OwnedShards([]int32{int32(p)}, partitions) {
				if _, dup := owner[s]; dup {
					t.Fatalf("%d partitions: shard %d owned twice", partitions, s)
				}
				owner[s] = p
			}
		}
		if len(owner) != Shards {
			t.Errorf("%d partitions: %d shards owned, want %d", partitions, len(owner), Shards)
		}
	}
	if got := OwnedShards([]int32{0}, 0); got != nil {
		t.Errorf("no partitions: %v", got)
	}
}

func TestDueRecord(t *testing.T) {
	d := Due{Kind: KindExpiry, Tenant: tenant, Trigger: trigger, Entity: entity(1),
		ExpiresAt: day(5).Add(time.Microsecond), DueAt: t0}
	got, err := DecodeDue(d.Encode())
	if err != nil || got != d {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, bad := range []string{
		`not json`,
		`{"v":2,"kind":"expiry"}`,
		`{"v":1,"kind":"deferred","tenant":"a","trigger":"b","entity":"c","expiresAt":"2026-01-01T00:00:00Z","dueAt":"2026-01-01T00:00:00Z"}`,
		`{"v":1,"kind":"expiry","tenant":"a","trigger":"b","entity":"","expiresAt":"2026-01-01T00:00:00Z","dueAt":"2026-01-01T00:00:00Z"}`,
	} {
		if _, err := DecodeDue([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestManualClock(t *testing.T) {
	c := NewManualClock(t0)
	ticks, stop := c.Ticks(time.Second)
	if got := c.Advance(time.Hour); !got.Equal(t0.Add(time.Hour)) || !c.Now().Equal(got) {
		t.Fatalf("advanced to %v", got)
	}
	c.Advance(time.Hour) // a tick not taken is not queued twice
	if at := <-ticks; !at.Equal(t0.Add(time.Hour)) {
		t.Errorf("tick at %v", at)
	}
	select {
	case at := <-ticks:
		t.Errorf("a second tick %v for two advances not taken", at)
	default:
	}
	stop()
	c.Advance(time.Hour)
	select {
	case <-ticks:
		t.Error("a stopped ticker ticked")
	default:
	}
}
