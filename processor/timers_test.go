package processor_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
	"github.com/loyaltyhooks/loyaltyhooks/processor"
	"github.com/loyaltyhooks/loyaltyhooks/processor/rules"
	"github.com/loyaltyhooks/loyaltyhooks/processor/timer"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
	"github.com/loyaltyhooks/loyaltyhooks/topology"
)

// The expiry timers through the real loop: kfake, a real redis-server, the transactional
// session, the ticker and its due records, on a clock the tests move.

const tenantB = "6f1c1a52-3c1e-4b8e-9d1e-0a0000000002"

// t0 is where the tests' clock starts.
var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func days(n float64) time.Time { return t0.Add(time.Duration(n * float64(24*time.Hour))) }

// id makes the fixture's entity ids: one letter of kind, one number.
func id(kind byte, n int) string { return fmt.Sprintf("%c0000000-0000-4000-8000-%012d", kind, n) }

const rewardID = "3c000000-0000-4000-8000-000000000001"

func transferRow(entity, tenant string, expires time.Time, remaining string) *cdc.Row {
	return row("transfer_id", entity, "tenant_id", tenant, "wallet_id", walletID, "member_id", memberID,
		"type", "adding", "units", cdc.DecimalValue("50.00"), "remaining_units", cdc.DecimalValue(remaining),
		"pending", false, "cancelled", false, "expires_at", cdc.TimeValue(expires))
}

func couponRow(entity string, activeTo time.Time, usedAt cdc.Value) *cdc.Row {
	return row("issued_reward_id", entity, "tenant_id", tenantID, "reward_id", rewardID, "member_id", memberID,
		"status", "issued", "coupon_code", "C-"+entity, "coupon_value", cdc.DecimalValue("12.50"),
		"coupon_value_type", "money", "coupon_active_from", cdc.TimeValue(days(-30)),
		"coupon_active_to", cdc.TimeValue(activeTo), "coupon_used_at", usedAt)
}

func droppingMember(entity, projected string, next time.Time) *cdc.Row {
	return row("member_id", entity, "tenant_id", tenantID, "active", true, "first_name", "Ada",
		"last_name", "Lovelace", "email", "ada@example.com", "phone", "+48111222333", "loyalty_card_number", "CARD-7",
		"level_id", silver, "projected_level_id", projected, "next_recalculation_at", cdc.TimeValue(next))
}

func settingsRow(tenant string, pointsDays any) *cdc.Row {
	return row("tenant_id", tenant, "expire_points_notification_days", pointsDays,
		"expire_coupons_notification_days", nil, "expire_levels_notification_days", 10)
}

// timerEnv runs processors on one broker and Redis with one manual clock.
type timerEnv struct {
	*env
	adm   *kadm.Client
	clock *timer.ManualClock
	store *timer.Store
}

func newTimerEnv(t *testing.T) *timerEnv { return timerEnvOf(t, newEnv(t)) }

// timerEnvOf adds the timer tests' clock and views of Redis to e.
func timerEnvOf(t *testing.T, e *env) *timerEnv {
	rdb, err := connect.Redis(e.cfg.Redis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	// An admin client made once the topics exist: the env's own cached their absence.
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cfg.Kafka.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &timerEnv{env: e, adm: kadm.NewClient(cl), clock: timer.NewManualClock(t0),
		store: timer.NewStore(rdb, e.cfg.Redis.KeyPrefix)}
}

// caughtUp waits until the processor's group has committed every record of every topic it
// reads, the timers topic included; a partition whose lag is not known is not caught up.
func (e *timerEnv) caughtUp(ctx context.Context) {
	e.t.Helper()
	for {
		lags, err := e.adm.Lag(ctx, e.cfg.Processor.Group)
		if err == nil {
			l := lags[e.cfg.Processor.Group]
			if l.Error() == nil && !l.Lag.IsEmpty() && l.Lag.Total() == 0 && lagKnown(l.Lag) {
				return
			}
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("processor did not catch up: %v", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func lagKnown(l kadm.GroupLag) bool {
	for _, ps := range l {
		for _, p := range ps {
			if p.Err != nil {
				return false
			}
		}
	}
	return true
}

// running is one processor instance in its own goroutine.
type running struct {
	*processor.Processor
	stop func()
}

func (e *timerEnv) start(ctx context.Context, instance string, opts ...processor.Option) *running {
	e.t.Helper()
	cfg := e.cfg
	cfg.Processor.InstanceID = instance
	opts = append([]processor.Option{processor.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		processor.WithClock(e.clock)}, opts...)
	p, err := processor.New(ctx, cfg, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	r := &running{Processor: p, stop: runInBackground(ctx, e.t, p.Run)}
	e.t.Cleanup(r.stop)
	e.ownsAll(ctx, r)
	return r
}

// ownsAll waits until p owns every partition the processor reads, timers included.
func (e *timerEnv) ownsAll(ctx context.Context, p *running) {
	e.t.Helper()
	all := 0
	for _, tp := range topology.FromConfig(e.cfg).Topics {
		if slices.Contains(tp.Readers, topology.Processor) {
			all += int(tp.Partitions)
		}
	}
	for p.Assigned() != all {
		select {
		case <-ctx.Done():
			e.t.Fatalf("the processor owns %d of %d partitions", p.Assigned(), all)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// counter reads a counter's value.
func counter(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// awaitMetric polls reached until it holds or ctx ends: a batch's counts are made when it
// commits, just after the commit is visible to readers.
func awaitMetric(ctx context.Context, reached func() bool) {
	for !reached() && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// awaitCounter waits until the counters add up to at least want, or ctx ends, and returns their
// sum.
func awaitCounter(ctx context.Context, t *testing.T, want float64, cs ...prometheus.Counter) float64 {
	t.Helper()
	var n float64
	awaitMetric(ctx, func() bool {
		n = 0
		for _, c := range cs {
			n += counter(t, c)
		}
		return n >= want
	})
	return n
}

// tick moves the clock by d, waits until p has scanned at the new time, then until every due
// record it wrote has been processed.
func (e *timerEnv) tick(ctx context.Context, p *running, d time.Duration) {
	e.t.Helper()
	at := e.clock.Advance(d)
	for p.LastTimerScan().Before(at) {
		select {
		case <-ctx.Done():
			e.t.Fatalf("no timer scan at %v (last %v)", at, p.LastTimerScan())
		case <-time.After(20 * time.Millisecond):
		}
	}
	e.caughtUp(ctx)
}

// expiryEvent is an expiry webhook as the topic holds it.
type expiryEvent struct {
	name, key, messageID string
	data                 map[string]any
}

func (ev expiryEvent) String() string { return ev.name + " " + ev.entity() }

// entity is the id of the row the event is about.
func (ev expiryEvent) entity() string {
	switch ev.name {
	case rules.PointsWillExpire:
		return ev.data["transferId"].(string)
	case rules.CouponWillExpire:
		return ev.data["issuedCoupon"].(map[string]any)["code"].(string)[len("C-"):]
	}
	return ev.data["customerId"].(string)
}

// expiryEvents reads the committed expiry webhooks, in topic order per partition.
func (e *timerEnv) expiryEvents(ctx context.Context) []expiryEvent {
	e.t.Helper()
	codec, err := schemas.New()
	if err != nil {
		e.t.Fatal(err)
	}
	reader := schemas.NewReader(codec, nil)
	var out []expiryEvent
	for _, r := range e.committed(ctx, e.cfg.Topics.Webhooks) {
		ev, err := reader.Decode(r.Value)
		if err != nil {
			e.t.Fatal(err)
		}
		switch ev.EventName {
		case rules.PointsWillExpire, rules.CouponWillExpire, rules.LevelWillExpire:
			if ev.Source.Topic != e.cfg.Topics.Timers || ev.StoreCode != "DEFAULT" && ev.StoreCode != "B" {
				e.t.Errorf("%s: source %+v, store %q", ev.EventName, ev.Source, ev.StoreCode)
			}
			out = append(out, expiryEvent{name: ev.EventName, key: string(r.Key), messageID: ev.MessageID, data: ev.Data})
		}
	}
	return out
}

// wantEvents checks the expiry events emitted so far, each exactly once.
func (e *timerEnv) wantEvents(ctx context.Context, want ...string) []expiryEvent {
	e.t.Helper()
	evs := e.expiryEvents(ctx)
	var got []string
	ids := map[string]bool{}
	for _, ev := range evs {
		got = append(got, ev.String())
		if ids[ev.messageID] {
			e.t.Errorf("message id %s emitted twice (%s)", ev.messageID, ev)
		}
		ids[ev.messageID] = true
	}
	slices.Sort(got)
	slices.Sort(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		e.t.Fatalf("expiry events\n got %q\nwant %q", got, want)
	}
	return evs
}

func (e *timerEnv) pending(ctx context.Context, tenant, trigger, entity string) bool {
	e.t.Helper()
	_, ok, err := e.store.Pending(ctx, tenant, trigger, entity)
	if err != nil {
		e.t.Fatal(err)
	}
	return ok
}

// snapshot writes the reference rows every test needs.
func (e *timerEnv) snapshot() {
	e.change("tenant", cdc.OpRead, tenantID, nil, row("tenant_id", tenantID, "code", "DEFAULT", "name", "Default store"))
	e.change("tenant", cdc.OpRead, tenantB, nil, row("tenant_id", tenantB, "code", "B", "name", "Store B"))
	e.change("settings", cdc.OpRead, tenantID, nil, settingsRow(tenantID, 10))
	e.change("settings", cdc.OpRead, tenantB, nil, settingsRow(tenantB, 3))
	e.change("tier", cdc.OpRead, bronze, nil, row("tier_id", bronze, "tenant_id", tenantID, "name", "Bronze", "rank", 1))
	e.change("tier", cdc.OpRead, silver, nil, row("tier_id", silver, "tenant_id", tenantID, "name", "Silver", "rank", 2))
	e.change("member", cdc.OpRead, memberID, nil, row("member_id", memberID, "tenant_id", tenantID, "active", true,
		"email", "m@example.com", "phone", nil, "loyalty_card_number", "CARD-1", "level_id", bronze))
}

func TestExpiryTimers(t *testing.T) { expiryTimers(t, newTimerEnv(t)) }

func expiryTimers(t *testing.T, e *timerEnv) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e.snapshot()
	p := e.start(ctx, "it-1")

	var (
		fireOnce     = id('a', 1) // points, due at +5 days
		spent        = id('a', 2) // points spent before they come due
		moved        = id('a', 3) // expiry moved from +15 to +25 days
		immediate    = id('a', 4) // learned inside its window
		expired      = id('a', 5) // learned after its expiry
		widened      = id('a', 6) // tenant B: N goes from 3 to 12 days
		coupon       = id('c', 1)
		usedCoupon   = id('c', 2)
		dropping     = id('d', 1)
		calledOff    = id('d', 2)
		unusedCoupon = couponRow(usedCoupon, days(15), cdc.Value{})
	)
	e.change("unit_transfer", cdc.OpCreate, fireOnce, nil, transferRow(fireOnce, tenantID, days(15), "20.5"))
	e.change("unit_transfer", cdc.OpCreate, spent, nil, transferRow(spent, tenantID, days(15), "30"))
	e.change("unit_transfer", cdc.OpRead, moved, nil, transferRow(moved, tenantID, days(15), "5")) // a snapshot row schedules too
	e.change("unit_transfer", cdc.OpCreate, immediate, nil, transferRow(immediate, tenantID, days(2), "7"))
	e.change("unit_transfer", cdc.OpCreate, expired, nil, transferRow(expired, tenantID, days(-1), "7"))
	e.change("unit_transfer", cdc.OpCreate, widened, nil, transferRow(widened, tenantB, days(8), "9"))
	e.change("issued_reward", cdc.OpCreate, coupon, nil, couponRow(coupon, days(15), cdc.Value{}))
	e.change("issued_reward", cdc.OpCreate, usedCoupon, nil, unusedCoupon)
	e.change("member", cdc.OpCreate, dropping, nil, droppingMember(dropping, bronze, days(15)))
	e.change("member", cdc.OpCreate, calledOff, nil, droppingMember(calledOff, bronze, days(15)))
	e.caughtUp(ctx)
	if e.pending(ctx, tenantID, rules.PointsWillExpire, expired) {
		t.Error("a transfer learned after its expiry has a timer")
	}

	// Immediate fire: inside its window when first learned, it fires on the next scan; the
	// rest are not due yet (tenant B's window is 3 days, the transfer expires in 8).
	e.tick(ctx, p, time.Second)
	e.wantEvents(ctx, "PointsWillExpire "+immediate)

	// A change of N applies to the timer already scheduled.
	e.change("settings", cdc.OpUpdate, tenantB, settingsRow(tenantB, 3), settingsRow(tenantB, 12))
	e.caughtUp(ctx)
	e.tick(ctx, p, time.Second)
	e.wantEvents(ctx, "PointsWillExpire "+immediate, "PointsWillExpire "+widened)

	// Cancel (points spent, coupon used, tier no longer dropping) and reschedule.
	e.change("unit_transfer", cdc.OpUpdate, spent, transferRow(spent, tenantID, days(15), "30"), transferRow(spent, tenantID, days(15), "0"))
	e.change("issued_reward", cdc.OpUpdate, usedCoupon, unusedCoupon, couponRow(usedCoupon, days(15), cdc.TimeValue(days(1))))
	e.change("member", cdc.OpUpdate, calledOff, droppingMember(calledOff, bronze, days(15)), droppingMember(calledOff, silver, days(15)))
	e.change("unit_transfer", cdc.OpUpdate, moved, transferRow(moved, tenantID, days(15), "5"), transferRow(moved, tenantID, days(25), "5"))
	e.caughtUp(ctx)
	for _, c := range []struct{ trigger, entity string }{
		{rules.PointsWillExpire, spent}, {rules.CouponWillExpire, usedCoupon}, {rules.LevelWillExpire, calledOff},
	} {
		if e.pending(ctx, tenantID, c.trigger, c.entity) {
			t.Errorf("%s of %s not cancelled", c.trigger, c.entity)
		}
	}

	// Five days on, the timers due within ten days fire, once each.
	e.tick(ctx, p, 5*24*time.Hour)
	fired := []string{"PointsWillExpire " + immediate, "PointsWillExpire " + widened,
		"PointsWillExpire " + fireOnce, "CouponWillExpire " + coupon, "LevelWillExpire " + dropping}
	evs := e.wantEvents(ctx, fired...)
	checkPayloads(t, evs, fireOnce, dropping)

	// Due records written twice (a crash between writing one and removing its timer) and a due
	// record of an expiry that has moved since: no new event. A record that is no due record
	// is dead-lettered.
	due := func(entity string, expires time.Time) *kgo.Record {
		d := timer.Due{Kind: timer.KindExpiry, Tenant: tenantID, Trigger: rules.PointsWillExpire, Entity: entity,
			ExpiresAt: expires, DueAt: e.clock.Now()}
		return &kgo.Record{Topic: e.cfg.Topics.Timers, Key: []byte(entity), Value: d.Encode()}
	}
	e.produce(due(fireOnce, days(15)))
	e.produce(due(fireOnce, days(15)))
	e.produce(due(moved, days(15)))
	e.produce(&kgo.Record{Topic: e.cfg.Topics.Timers, Value: []byte("not a due record")})
	e.tick(ctx, p, time.Second)
	e.wantEvents(ctx, fired...)
	if dead := e.committed(ctx, e.cfg.Topics.CDCDeadLetter); len(dead) != 1 || processor.Header(dead[0], processor.HeaderDeadReason) != processor.ReasonBadDueRecord {
		t.Errorf("dead letters %v, want one %s", dead, processor.ReasonBadDueRecord)
	}

	// The moved timer fires at its new date, and nothing fires twice.
	e.tick(ctx, p, 10*24*time.Hour)
	evs = e.wantEvents(ctx, append(fired, "PointsWillExpire "+moved)...)
	for _, ev := range evs {
		if ev.entity() == moved && !ev.data["pointsWillExpire"].(time.Time).Equal(days(25)) {
			t.Errorf("moved timer fired for %v, want %v", ev.data["pointsWillExpire"], days(25))
		}
	}
}

// checkPayloads spot-checks the data of two expiry events against the rows they came from.
func checkPayloads(t *testing.T, evs []expiryEvent, transfer, member string) {
	t.Helper()
	for _, ev := range evs {
		switch {
		case ev.name == rules.PointsWillExpire && ev.entity() == transfer:
			d := ev.data
			if d["accountId"] != walletID || d["points"].(*big.Rat).RatString() != "50" ||
				d["remainingUnits"].(*big.Rat).RatString() != "41/2" || !d["pointsWillExpire"].(time.Time).Equal(days(15)) ||
				d["customer"].(map[string]any)["email"] != "m@example.com" || ev.key != memberID {
				t.Errorf("PointsWillExpire data %v, key %s", d, ev.key)
			}
			if ev.messageID != rules.TimerMessageID(rules.PointsWillExpire, "unit_transfer", transfer, days(15)) {
				t.Errorf("PointsWillExpire message id %s", ev.messageID)
			}
		case ev.name == rules.CouponWillExpire:
			c := ev.data["issuedCoupon"].(map[string]any)
			if !c["activeTo"].(time.Time).Equal(days(15)) || c["valueType"] != "money" || c["usedAt"] != nil {
				t.Errorf("CouponWillExpire coupon %v", c)
			}
		case ev.name == rules.LevelWillExpire && ev.entity() == member:
			d := ev.data
			if d["levelName"] != "Silver" || d["futureLevelName"] != "Bronze" || d["customerFirstName"] != "Ada" || ev.key != member {
				t.Errorf("LevelWillExpire data %v, key %s", d, ev.key)
			}
		}
	}
}

// TestExpiryCatchUpAfterDowntime stops the processor for twelve days: at restart the timers
// that came due meanwhile fire, those whose expiry passed meanwhile never do.
func TestExpiryCatchUpAfterDowntime(t *testing.T) {
	e := newTimerEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e.snapshot()
	var (
		catchUp = id('a', 1) // expires at +13 days: due from +3, still ahead at +12
		missed  = id('a', 2) // expires at +11 days: due from +1, passed at +12
		later   = id('a', 3) // expires at +40 days
	)
	p := e.start(ctx, "it-1")
	for _, c := range []struct {
		entity string
		at     float64
	}{{catchUp, 13}, {missed, 11}, {later, 40}} {
		e.change("unit_transfer", cdc.OpCreate, c.entity, nil, transferRow(c.entity, tenantID, days(c.at), "10"))
	}
	e.caughtUp(ctx)
	e.tick(ctx, p, time.Second)
	e.wantEvents(ctx)
	p.stop()

	e.clock.Advance(12 * 24 * time.Hour) // nothing runs: no scan
	p = e.start(ctx, "it-1")
	e.caughtUp(ctx)
	e.tick(ctx, p, time.Second)
	e.wantEvents(ctx, "PointsWillExpire "+catchUp)
	if e.pending(ctx, tenantID, rules.PointsWillExpire, missed) {
		t.Error("a timer whose expiry passed is still pending")
	}
	if !e.pending(ctx, tenantID, rules.PointsWillExpire, later) {
		t.Error("a timer not yet due is gone")
	}
}

// TestExpiryRebalanceMidScan holds an instance's scan after it wrote its due records and before
// it removed their timers, moves its partitions to another instance, and lets that one scan
// the same timers: every timer still gives exactly one event.
func TestExpiryRebalanceMidScan(t *testing.T) {
	e := newTimerEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e.snapshot()

	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hold := func() {
		once.Do(func() {
			close(held)
			select {
			case <-release:
			case <-ctx.Done():
			}
		})
	}
	a := e.start(ctx, "it-a", processor.WithTimerScanHook(hold))
	var entities, want []string
	for n := range 6 {
		entity := id('a', n)
		e.change("unit_transfer", cdc.OpCreate, entity, nil, transferRow(entity, tenantID, days(12), "10"))
		entities = append(entities, entity)
		want = append(want, "PointsWillExpire "+entity)
	}
	e.caughtUp(ctx)

	e.clock.Advance(3 * 24 * time.Hour) // a scans, writes six due records, and is held
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatal("the scan did not reach the hook")
	}
	aDone := make(chan struct{})
	go func() { a.stop(); close(aDone) }() // a leaves the group; its held scan keeps it running

	b := e.start(ctx, "it-b") // owns every partition once a has left
	for _, entity := range entities {
		if !e.pending(ctx, tenantID, rules.PointsWillExpire, entity) {
			t.Fatalf("the timer of %s removed by the held scan", entity)
		}
	}
	e.tick(ctx, b, time.Second) // b finds the same six timers and writes them again
	close(release)
	<-aDone
	e.caughtUp(ctx)
	e.wantEvents(ctx, want...)
	if dropped := awaitCounter(ctx, t, 6, a.Metrics().DuplicatesDropped, b.Metrics().DuplicatesDropped); dropped < 6 {
		t.Errorf("%v duplicates dropped, want the six due records written twice", dropped)
	}
}
