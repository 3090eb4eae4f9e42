package rules

import (
	"fmt"
	"strconv"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/processor/lookup"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
)

// expiry is one timer-driven trigger: the table whose rows it watches and their key column, the
// column holding the expiry, the settings column of the notification window, when a row
// qualifies, and the builder of its data (schemas/triggers/<Trigger>.avsc).
type expiry struct {
	trigger    string
	table      string // logical table
	keyColumn  string
	dateColumn string
	daysColumn string
	qualifies  func(get getter, view *lookup.View) verdict
	build      func(r *input) (map[string]any, error)
}

// expiries are the timer-driven triggers of CONTRACT §2. A row that qualifies schedules a timer
// at its expiry; the timer comes due N days before it, and the event is built from the row as
// the lookups hold it then.
var expiries = []expiry{
	{PointsWillExpire, "unit_transfer", "transfer_id", "expires_at", "expire_points_notification_days", pointsExpiring, pointsWillExpire},
	{CouponWillExpire, "issued_reward", "issued_reward_id", "coupon_active_to", "expire_coupons_notification_days", couponExpiring, couponWillExpire},
	{LevelWillExpire, "member", "member_id", "next_recalculation_at", "expire_levels_notification_days", levelDropping, levelWillExpire},
}

// getter reads a column of one row image.
type getter func(col string) cdc.Value

// verdict is whether a row qualifies for its trigger's timer.
type verdict uint8

const (
	disqualified verdict = iota
	qualified
	// undecided: a lookup row the answer needs is missing. The timer is kept, and the check
	// repeated when it comes due, when only qualified fires.
	undecided
)

func expiryOf(trigger string) *expiry {
	for i := range expiries {
		if expiries[i].trigger == trigger {
			return &expiries[i]
		}
	}
	return nil
}

// ExpiryTrigger describes a timer-driven trigger for the scans: its name, the table of its
// entities and the settings column of its notification window in days.
type ExpiryTrigger struct {
	Trigger    string
	Table      string
	DaysColumn string
}

// ExpiryTriggers lists the timer-driven triggers.
func ExpiryTriggers() []ExpiryTrigger {
	out := make([]ExpiryTrigger, len(expiries))
	for i, e := range expiries {
		out[i] = ExpiryTrigger{Trigger: e.trigger, Table: e.table, DaysColumn: e.daysColumn}
	}
	return out
}

// Timer is the timer of one expiry trigger for one entity row, as a change leaves it.
type Timer struct {
	Trigger string
	Tenant  string
	Entity  string // primary-key text of the row
	// ExpiresAt is the row's expiry; zero when the row no longer qualifies, which cancels
	// any timer it had.
	ExpiresAt time.Time
}

// Timers appends the timers a change schedules, moves or cancels: an insert, update or snapshot
// read of a qualifying row sets its timer to the row's expiry, a row that stops qualifying or is
// deleted cancels it. Whether the expiry is still ahead is the caller's to judge; rules read
// no clock.
func Timers(ch *cdc.Change, view *lookup.View, dst []Timer) []Timer {
	switch ch.Op {
	case cdc.OpCreate, cdc.OpUpdate, cdc.OpRead, cdc.OpDelete:
	default:
		return dst
	}
	for i := range expiries {
		if e := &expiries[i]; e.table == ch.Table {
			dst = e.timer(ch, view, dst)
		}
	}
	return dst
}

func (e *expiry) timer(ch *cdc.Change, view *lookup.View, dst []Timer) []Timer {
	if ch.Op == cdc.OpDelete {
		entity := ch.Before.Get(e.keyColumn).Text()
		if entity == "" {
			entity = ch.KeyText()
		}
		// Without a before image the tenant, and so the timer's set, is not known; the timer
		// then comes due and finds no row.
		if tenant := ch.Before.Get("tenant_id").Text(); tenant != "" && entity != "" {
			dst = append(dst, Timer{Trigger: e.trigger, Tenant: tenant, Entity: entity})
		}
		return dst
	}
	r := &input{ch: ch, view: view}
	tenant, entity := r.get("tenant_id").Text(), r.get(e.keyColumn).Text()
	if tenant == "" || entity == "" {
		return dst
	}
	at, v := e.check(r.get, view)
	if v == disqualified {
		switch {
		case ch.Op == cdc.OpCreate:
			return dst // a new row has no timer to cancel
		case ch.Op == cdc.OpUpdate && ch.Before != nil:
			if _, was := e.check(ch.Before.Get, view); was == disqualified {
				return dst // it did not qualify before either
			}
		}
		at = time.Time{}
	}
	return append(dst, Timer{Trigger: e.trigger, Tenant: tenant, Entity: entity, ExpiresAt: at})
}

// check reads a row image's expiry and whether the row qualifies for a timer at it.
func (e *expiry) check(get getter, view *lookup.View) (time.Time, verdict) {
	v, err := instant(e.dateColumn, get(e.dateColumn))
	at, ok := v.(time.Time)
	if err != nil || !ok {
		return time.Time{}, disqualified
	}
	return at, e.qualifies(get, view)
}

// ExpiryRow is the lookup row a due timer of trigger re-checks: its entity's.
func ExpiryRow(trigger, entity string) (lookup.Ref, bool) {
	e := expiryOf(trigger)
	if e == nil {
		return lookup.Ref{}, false
	}
	return lookup.Ref{Table: e.table, Key: entity}, true
}

// ExpiryReferences appends the lookup rows the event of a due timer needs besides its entity's
// row (the customer, tiers, the store code), given that row as stored; nil needs none.
func ExpiryReferences(trigger string, row *cdc.Row, dst []lookup.Ref) []lookup.Ref {
	e := expiryOf(trigger)
	if e == nil || row == nil {
		return dst
	}
	return References(&cdc.Change{Table: e.table, Op: cdc.OpRead, After: row}, dst)
}

// Expire appends the event of a timer that came due, when its entity's row, as the view holds it
// now, still qualifies with the expiry the timer was scheduled for; it reports whether it did.
// src locates the due record the timer came in (table and op are filled here), and createdAt is
// when the timer came due. An error means the row cannot be turned into the event.
func Expire(t Timer, src schemas.Source, createdAt time.Time, view *lookup.View, dst []Event) ([]Event, bool, error) {
	e := expiryOf(t.Trigger)
	if e == nil {
		return dst, false, fmt.Errorf("timer of unknown trigger %q", t.Trigger)
	}
	row := view.Row(e.table, t.Entity)
	if at, v := e.check(row.Get, view); row == nil || v != qualified || !at.Equal(t.ExpiresAt) {
		return dst, false, nil
	}
	r := &input{ch: &cdc.Change{Table: e.table, Op: cdc.OpRead, After: row}, view: view}
	data, err := e.build(r)
	if err != nil {
		return dst, false, fmt.Errorf("timer %s of %s %s: %w", t.Trigger, e.table, t.Entity, err)
	}
	src.Table, src.Op = e.table, ""
	ev := Event{Key: t.Entity, Event: schemas.Event{
		MessageID: TimerMessageID(t.Trigger, e.table, t.Entity, t.ExpiresAt),
		EventName: t.Trigger,
		StoreCode: r.storeCode(),
		CreatedAt: createdAt.UTC(),
		Data:      data,
		Source:    src,
	}}
	if m := r.get(memberColumn); m.Known() {
		ev.Key = m.Text()
	}
	return append(dst, ev), true, nil
}

// TimerMessageID is the id of a timer's event, from the trigger, the entity and its expiry: a
// timer that comes due twice for one expiry gives one id, a moved expiry a new one.
func TimerMessageID(trigger, table, entity string, expiresAt time.Time) string {
	return MessageID(trigger, table, entity, 0, 0, strconv.FormatInt(expiresAt.UnixMicro(), 10))
}

// Unit transfer types that add units which can expire.
const (
	transferAdding    = "adding"
	transferP2PAdding = "p2p_adding"
)

// pointsExpiring: an active adding transfer with units left.
func pointsExpiring(get getter, _ *lookup.View) verdict {
	if t := get("type"); t.Kind != cdc.String || (t.Str != transferAdding && t.Str != transferP2PAdding) {
		return disqualified
	}
	if get("pending").Bool() || get("cancelled").Bool() || !positive(get("remaining_units")) {
		return disqualified
	}
	return qualified
}

// positive reports whether an amount is known and above zero.
func positive(v cdc.Value) bool {
	switch v.Kind {
	case cdc.Int:
		return v.Int > 0
	case cdc.Decimal, cdc.String:
		if f, ok := parseFixed(v.Str); ok {
			return f.m > 0
		}
		r, err := parseDecimal(v.Str)
		return err == nil && r.Sign() > 0
	}
	return false
}

// Issued reward statuses after which a coupon cannot be used.
var couponGone = map[string]bool{"canceled": true, "rejected": true, "returned": true}

// couponExpiring: a coupon not used and not given back.
func couponExpiring(get getter, _ *lookup.View) verdict {
	if get("coupon_used_at").Kind != cdc.Null {
		return disqualified
	}
	if s := get("status"); s.Kind == cdc.String && couponGone[s.Str] {
		return disqualified
	}
	return qualified
}

// levelDropping: a recalculation will move the member to a tier of lower rank.
func levelDropping(get getter, view *lookup.View) verdict {
	level, future := get("level_id"), get("projected_level_id")
	if !level.Known() || !future.Known() || same(level, future) {
		return disqualified
	}
	now, next := view.Row("tier", level.Text()).Get("rank"), view.Row("tier", future.Text()).Get("rank")
	switch {
	case now.Kind != cdc.Int || next.Kind != cdc.Int:
		return undecided
	case next.Int < now.Int:
		return qualified
	}
	return disqualified
}

func pointsWillExpire(r *input) (map[string]any, error) {
	f := fields{r: r}
	data := map[string]any{
		"accountId":        r.text("wallet_id"),
		"points":           f.decimal("units"),
		"remainingUnits":   f.decimal("remaining_units"),
		"pointsWillExpire": f.instant("expires_at"),
		"transferId":       r.text("transfer_id"),
		"customer":         r.customer("member_id"),
	}
	return data, f.err
}

func couponWillExpire(r *input) (map[string]any, error) {
	f := fields{r: r}
	coupon := f.issuedCoupon(true)
	if coupon == nil {
		// An issued reward without a coupon code has nothing to describe but the date.
		coupon = map[string]any{"activeTo": f.instant("coupon_active_to")}
	}
	return map[string]any{"customer": r.customer("member_id"), "issuedCoupon": coupon}, f.err
}

// levelWillExpire is flat, as Open Loyalty sends it: the member's own columns, then the tier
// held now and the tier after the recalculation.
func levelWillExpire(r *input) (map[string]any, error) {
	level, future := r.get("level_id"), r.get("projected_level_id")
	return map[string]any{
		"customerId":                r.text("member_id"),
		"customerEmail":             r.text("email"),
		"customerPhone":             r.text("phone"),
		"customerLoyaltyCardNumber": r.text("loyalty_card_number"),
		"customerFirstName":         r.text("first_name"),
		"customerLastName":          r.text("last_name"),
		"levelId":                   text(level),
		"levelName":                 text(r.lookup("tier", level).Get("name")),
		"futureLevelId":             text(future),
		"futureLevelName":           text(r.lookup("tier", future).Get("name")),
	}, nil
}
