package rules

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/processor/lookup"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
)

const (
	transferE = "6a000000-0000-4000-8000-0000000000e1" // adding, expires soon
	issuedR1  = "7a000000-0000-4000-8000-000000000001" // issuedRewardRow's id
)

var (
	expiringTransferRow = row(
		"transfer_id", transferE, "tenant_id", tenant1, "wallet_id", wallet1, "member_id", member1,
		"type", "adding", "units", dec("50.00"), "remaining_units", dec("20.5"), "pending", false,
		"cancelled", false, "locked_until", nil, "expires_at", ts("2026-02-10T23:59:59.123456Z"),
		"related_transfer_id", nil, "comment", "Purchase", "action_cause", nil,
		"created_at", ts("2026-01-01T10:00:00Z"), "updated_at", ts("2026-01-01T10:00:00Z"),
	)
	droppingMemberRow = with(memberRow, "next_recalculation_at", ts("2026-03-01T00:00:00Z"), "projected_level_id", tierBronz)
)

// expiryWorld is the fixture world with the rows of the expiry tests stored as lookups.
func expiryWorld() *lookup.View {
	v := world()
	v.Load(lookup.Ref{Table: "unit_transfer", Key: transferE}, expiringTransferRow)
	v.Load(lookup.Ref{Table: "issued_reward", Key: issuedR1}, issuedRewardRow)
	v.Load(lookup.Ref{Table: "member", Key: member1}, droppingMemberRow)
	return v
}

func timerText(ts []Timer) []string {
	var out []string
	for _, t := range ts {
		at := "cancel"
		if !t.ExpiresAt.IsZero() {
			at = t.ExpiresAt.Format(time.RFC3339Nano)
		}
		out = append(out, fmt.Sprintf("%s %s %s %s", t.Trigger, t.Tenant, t.Entity, at))
	}
	return out
}

// TestTimers checks which timers each change schedules, moves and cancels.
func TestTimers(t *testing.T) {
	transfer := expiringTransferRow
	spent := with(transfer, "remaining_units", dec("0.00"))
	coupon := issuedRewardRow
	member := droppingMemberRow
	sched := func(trigger, entity, at string) string {
		return fmt.Sprintf("%s %s %s %s", trigger, tenant1, entity, at)
	}
	cancel := func(trigger, entity string) string { return sched(trigger, entity, "cancel") }
	cases := []struct {
		name string
		ch   *cdc.Change
		want []string
	}{
		{"transfer insert", insert("unit_transfer", transfer, 1), []string{sched(PointsWillExpire, transferE, "2026-02-10T23:59:59.123456Z")}},
		{"transfer snapshot read", change("unit_transfer", cdc.OpRead, nil, transfer, 1), []string{sched(PointsWillExpire, transferE, "2026-02-10T23:59:59.123456Z")}},
		{"p2p adding", insert("unit_transfer", with(transfer, "type", "p2p_adding"), 1), []string{sched(PointsWillExpire, transferE, "2026-02-10T23:59:59.123456Z")}},
		{"integer units", insert("unit_transfer", with(transfer, "remaining_units", 3), 1), []string{sched(PointsWillExpire, transferE, "2026-02-10T23:59:59.123456Z")}},
		{"spending", insert("unit_transfer", with(transfer, "type", "spending"), 1), nil},
		{"pending", insert("unit_transfer", with(transfer, "pending", true), 1), nil},
		{"cancelled", insert("unit_transfer", with(transfer, "cancelled", true), 1), nil},
		{"never expires", insert("unit_transfer", with(transfer, "expires_at", nil), 1), nil},
		{"nothing left", insert("unit_transfer", spent, 1), nil},
		{"remaining unknown", insert("unit_transfer", with(transfer, "remaining_units", nil), 1), nil},
		{"points spent", update("unit_transfer", transfer, spent, 2), []string{cancel(PointsWillExpire, transferE)}},
		{"transfer cancelled", update("unit_transfer", transfer, with(transfer, "cancelled", true), 2), []string{cancel(PointsWillExpire, transferE)}},
		{"expiry moved", update("unit_transfer", transfer, with(transfer, "expires_at", ts("2026-03-10T00:00:00Z")), 2), []string{sched(PointsWillExpire, transferE, "2026-03-10T00:00:00Z")}},
		{"still spent", update("unit_transfer", spent, with(spent, "comment", "x"), 2), nil},
		{"update without before image", update("unit_transfer", nil, spent, 2), []string{cancel(PointsWillExpire, transferE)}},
		{"spent row read again", change("unit_transfer", cdc.OpRead, nil, spent, 2), []string{cancel(PointsWillExpire, transferE)}},
		{"transfer delete", change("unit_transfer", cdc.OpDelete, transfer, nil, 3), []string{cancel(PointsWillExpire, transferE)}},
		{"delete without before image", change("unit_transfer", cdc.OpDelete, nil, nil, 3), nil},
		{"truncate", &cdc.Change{Table: "unit_transfer", Op: cdc.OpTruncate}, nil},
		{"no tenant", insert("unit_transfer", with(transfer, "tenant_id", nil), 1), nil},

		{"coupon issued", insert("issued_reward", coupon, 1), []string{sched(CouponWillExpire, issuedR1, "2026-02-02T00:00:00Z")}},
		{"coupon used", update("issued_reward", coupon, with(coupon, "coupon_used_at", ts("2026-01-20T12:00:00Z")), 2), []string{cancel(CouponWillExpire, issuedR1)}},
		{"reward canceled", update("issued_reward", coupon, with(coupon, "status", "canceled"), 2), []string{cancel(CouponWillExpire, issuedR1)}},
		{"reward returned", update("issued_reward", coupon, with(coupon, "status", "returned"), 2), []string{cancel(CouponWillExpire, issuedR1)}},
		{"reward shipped", update("issued_reward", coupon, with(coupon, "status", "shipped"), 2), []string{sched(CouponWillExpire, issuedR1, "2026-02-02T00:00:00Z")}},
		{"no coupon", insert("issued_reward", with(coupon, "coupon_active_to", nil), 1), nil},

		{"level dropping", update("member", memberRow, member, 2), []string{sched(LevelWillExpire, member1, "2026-03-01T00:00:00Z")}},
		{"member inserted dropping", insert("member", member, 1), []string{sched(LevelWillExpire, member1, "2026-03-01T00:00:00Z")}},
		{"drop called off", update("member", member, with(member, "projected_level_id", tierSilv), 3), []string{cancel(LevelWillExpire, member1)}},
		{"projected same rank", update("member", member, with(member, "projected_level_id", tierSilv2), 3), []string{cancel(LevelWillExpire, member1)}},
		{"projected higher", update("member", member, with(member, "projected_level_id", tierGold), 3), []string{cancel(LevelWillExpire, member1)}},
		{"projected tier not known yet", update("member", memberRow, with(member, "projected_level_id", "2a000000-0000-4000-8000-0000000000ff"), 2), []string{sched(LevelWillExpire, member1, "2026-03-01T00:00:00Z")}},
		{"member update, no recalculation", update("member", memberRow, with(memberRow, "email", "x@example.com"), 2), nil},
		{"member delete", change("member", cdc.OpDelete, member, nil, 4), []string{cancel(LevelWillExpire, member1)}},
		{"table without timers", insert("wallet", walletRow, 1), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := timerText(Timers(c.ch, expiryWorld(), nil))
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("timers\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

// dueSource is where the fixture's due timers were read.
var dueSource = schemas.Source{Topic: "loyalty.webhooks.timers", Partition: 3, Offset: 41}

var dueAt = time.Date(2026, 1, 31, 8, 0, 0, 0, time.UTC)

func expire(t *testing.T, view *lookup.View, trigger, entity string, at cdc.Value) ([]Event, bool) {
	t.Helper()
	evs, fired, err := Expire(Timer{Trigger: trigger, Tenant: tenant1, Entity: entity, ExpiresAt: at.Time()}, dueSource, dueAt, view, nil)
	if err != nil {
		t.Fatal(err)
	}
	return evs, fired
}

// TestExpireGolden checks each expiry trigger's event, as CONTRACT §2 and its schema say.
func TestExpireGolden(t *testing.T) {
	cases := []struct {
		name, trigger, entity string
		at                    cdc.Value
	}{
		{"points_will_expire", PointsWillExpire, transferE, expiringTransferRow.Get("expires_at")},
		{"coupon_will_expire", CouponWillExpire, issuedR1, issuedRewardRow.Get("coupon_active_to")},
		{"level_will_expire", LevelWillExpire, member1, droppingMemberRow.Get("next_recalculation_at")},
	}
	codec, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs, fired := expire(t, expiryWorld(), c.trigger, c.entity, c.at)
			if !fired || len(evs) != 1 {
				t.Fatalf("fired %v, %d events; want one", fired, len(evs))
			}
			golden(t, c.name, evs)
			body, err := codec.AppendJSON(nil, &evs[0].Event, "")
			if err != nil || !json.Valid(body) {
				t.Errorf("JSON %v: %s", err, body)
			}
		})
	}
}

// TestExpireRechecks checks that a timer that came due fires only while its entity still
// qualifies with the expiry the timer was scheduled for.
func TestExpireRechecks(t *testing.T) {
	at := expiringTransferRow.Get("expires_at")
	store := func(table, key string, r *cdc.Row) *lookup.View {
		v := expiryWorld()
		v.Load(lookup.Ref{Table: table, Key: key}, r)
		return v
	}
	cases := []struct {
		name    string
		view    *lookup.View
		trigger string
		entity  string
		at      cdc.Value
	}{
		{"points spent since", store("unit_transfer", transferE, with(expiringTransferRow, "remaining_units", dec("0"))), PointsWillExpire, transferE, at},
		{"expiry moved since", store("unit_transfer", transferE, with(expiringTransferRow, "expires_at", ts("2026-05-01T00:00:00Z"))), PointsWillExpire, transferE, at},
		{"transfer deleted", store("unit_transfer", transferE, nil), PointsWillExpire, transferE, at},
		{"coupon used since", store("issued_reward", issuedR1, with(issuedRewardRow, "coupon_used_at", ts("2026-01-30T00:00:00Z"))), CouponWillExpire, issuedR1, issuedRewardRow.Get("coupon_active_to")},
		{"drop called off", store("member", member1, with(droppingMemberRow, "projected_level_id", tierSilv)), LevelWillExpire, member1, droppingMemberRow.Get("next_recalculation_at")},
		{"tier still not known", store("tier", tierBronz, nil), LevelWillExpire, member1, droppingMemberRow.Get("next_recalculation_at")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if evs, fired := expire(t, c.view, c.trigger, c.entity, c.at); fired || len(evs) != 0 {
				t.Errorf("fired %v with %v", fired, names(evs))
			}
		})
	}
	if _, _, err := Expire(Timer{Trigger: "Nope", Entity: transferE}, dueSource, dueAt, expiryWorld(), nil); err == nil {
		t.Error("a timer of an unknown trigger gave no error")
	}
}

// TestTimerMessageID checks the id of a timer's event: one per entity and expiry.
func TestTimerMessageID(t *testing.T) {
	at := time.Date(2026, 2, 10, 23, 59, 59, 123456000, time.UTC)
	id := TimerMessageID(PointsWillExpire, "unit_transfer", transferE, at)
	if id != TimerMessageID(PointsWillExpire, "unit_transfer", transferE, at.In(time.FixedZone("CET", 3600))) {
		t.Error("the same instant in another zone gave another id")
	}
	for _, other := range []string{
		TimerMessageID(PointsWillExpire, "unit_transfer", transferE, at.Add(time.Microsecond)),
		TimerMessageID(PointsWillExpire, "unit_transfer", transfer1, at),
		TimerMessageID(CouponWillExpire, "unit_transfer", transferE, at),
	} {
		if other == id {
			t.Errorf("distinct timers share id %s", id)
		}
	}
	evs, _ := expire(t, expiryWorld(), PointsWillExpire, transferE, cdc.TimeValue(at))
	if len(evs) != 1 || evs[0].MessageID != id {
		t.Fatalf("event id %v, want %s", evs, id)
	}
}

// TestExpiryReferences checks that a due timer's event fetches what it refers to.
func TestExpiryReferences(t *testing.T) {
	if ref, ok := ExpiryRow(CouponWillExpire, issuedR1); !ok || ref != (lookup.Ref{Table: "issued_reward", Key: issuedR1}) {
		t.Errorf("ExpiryRow = %v %v", ref, ok)
	}
	if _, ok := ExpiryRow("Nope", issuedR1); ok {
		t.Error("ExpiryRow of an unknown trigger")
	}
	got := ExpiryReferences(LevelWillExpire, droppingMemberRow, nil)
	for _, want := range []lookup.Ref{{Table: "tenant", Key: tenant1}, {Table: "tier", Key: tierSilv}, {Table: "tier", Key: tierBronz}} {
		if !hasRef(got, want) {
			t.Errorf("references %v lack %v", got, want)
		}
	}
	if got := ExpiryReferences(PointsWillExpire, nil, nil); len(got) != 0 {
		t.Errorf("references of a missing row: %v", got)
	}
	// A member update that calls a drop off reads the tier projected before, to cancel the timer.
	calledOff := update("member", droppingMemberRow, with(droppingMemberRow, "projected_level_id", tierSilv), 2)
	if got := References(calledOff, nil); !hasRef(got, lookup.Ref{Table: "tier", Key: tierBronz}) {
		t.Errorf("references %v lack the tier projected before", got)
	}
}
