package processor_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
	"github.com/loyaltyhooks/loyaltyhooks/processor"
	"github.com/loyaltyhooks/loyaltyhooks/processor/claim"
	"github.com/loyaltyhooks/loyaltyhooks/processor/lookup"
	"github.com/loyaltyhooks/loyaltyhooks/processor/rules"
	"github.com/loyaltyhooks/loyaltyhooks/processor/timer"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
)

// Late lookups through the real loop: changes whose lookup rows have not arrived are deferred,
// wait in Redis, come back through the timers topic on the tests' clock, and go out once the
// rows are there, or with nulls after the grace (30 s by default).

// webhook is a committed webhook record as a data team reads it.
type webhook struct {
	schemas.Event
	key, storeHeader string
}

func (w webhook) String() string { return w.EventName + " " + w.key }

// webhooks reads the committed row-trigger webhooks, in topic order per partition.
func (e *timerEnv) webhooks(ctx context.Context) []webhook {
	e.t.Helper()
	codec, err := schemas.New()
	if err != nil {
		e.t.Fatal(err)
	}
	reader := schemas.NewReader(codec, nil)
	var out []webhook
	for _, r := range e.committed(ctx, e.cfg.Topics.Webhooks) {
		ev, err := reader.Decode(r.Value)
		if err != nil {
			e.t.Fatal(err)
		}
		if processor.Header(r, processor.HeaderMessageID) != ev.MessageID {
			e.t.Errorf("%s: message-id header %q", ev.EventName, processor.Header(r, processor.HeaderMessageID))
		}
		out = append(out, webhook{Event: *ev, key: string(r.Key), storeHeader: processor.Header(r, processor.HeaderStoreCode)})
	}
	return out
}

// only returns the webhooks of one trigger.
func only(ws []webhook, trigger string) []webhook {
	var out []webhook
	for _, w := range ws {
		if w.EventName == trigger {
			out = append(out, w)
		}
	}
	return out
}

// waiting reports whether a deferred change waits in Redis for the change record rec of row.
func (e *timerEnv) waiting(ctx context.Context, row string, rec *kgo.Record) bool {
	e.t.Helper()
	_, ok, err := e.store.PendingDeferral(ctx, row, timer.DeferralID(rec.Topic, rec.Partition, rec.Offset))
	if err != nil {
		e.t.Fatal(err)
	}
	return ok
}

// holds returns the holds on a row.
func (e *timerEnv) holds(ctx context.Context, row string) []timer.Hold {
	e.t.Helper()
	h, err := e.store.Holds(ctx, []string{row})
	if err != nil {
		e.t.Fatal(err)
	}
	return h[row]
}

// observed reads a histogram's sample count and sum.
func observed(t *testing.T, h prometheus.Observer) (uint64, float64) {
	t.Helper()
	var m dto.Metric
	if err := h.(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}

// awaitObserved waits until a histogram has at least want samples, or ctx ends, and returns its
// count and sum.
func awaitObserved(ctx context.Context, t *testing.T, want uint64, h prometheus.Observer) (n uint64, sum float64) {
	t.Helper()
	awaitMetric(ctx, func() bool {
		n, sum = observed(t, h)
		return n >= want
	})
	return n, sum
}

func memberCodeRow(code, member, purpose string) *cdc.Row {
	return row("code_id", code, "tenant_id", tenantID, "member_id", member, "purpose", purpose,
		"code", "tok-"+code, "code_number", "123456")
}

// TestLateMember: a member_code insert read before the member it belongs to waits for it, and
// its CustomerWasRegisteredWithoutActivation carries the member's email and phone, with the
// message id it would have had at once. A copy Debezium redelivered meanwhile gives no second
// event.
func TestLateMember(t *testing.T) { lateMember(t, newTimerEnv(t)) }

func lateMember(t *testing.T, e *timerEnv) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e.snapshot()
	p := e.start(ctx, "it-1")
	e.caughtUp(ctx) // the snapshot is read: its rows are there
	newMember := id('e', 1)
	const code = "c0000000-0000-4000-8000-000000000001"

	rec := e.change("member_code", cdc.OpCreate, code, nil, memberCodeRow(code, newMember, "registration"))
	lsn := e.lsn
	e.caughtUp(ctx)
	if ws := e.webhooks(ctx); len(ws) != 0 {
		t.Fatalf("events before the member arrived: %v", ws)
	}
	if !e.waiting(ctx, "member_code/"+code, rec) {
		t.Fatal("the member_code change is not waiting")
	}
	e.produce(&kgo.Record{Topic: rec.Topic, Key: rec.Key, Value: rec.Value}) // redelivered by Debezium
	e.change("member", cdc.OpCreate, newMember, nil, row("member_id", newMember, "tenant_id", tenantID, "active", true,
		"email", "late@example.com", "phone", "+48500600700", "loyalty_card_number", "CARD-9"))
	e.caughtUp(ctx)
	// The member's own event needs nothing missing: it is out at once.
	if ws := e.webhooks(ctx); fmt.Sprint(ws) != fmt.Sprint([]string{"CustomerRegistered " + newMember}) {
		t.Fatalf("events %v, want the member's CustomerRegistered alone", ws)
	}

	e.tick(ctx, p, time.Second)
	ws := e.webhooks(ctx)
	if fmt.Sprint(ws) != fmt.Sprint([]string{"CustomerRegistered " + newMember, "CustomerWasRegisteredWithoutActivation " + newMember}) {
		t.Fatalf("events %v", ws)
	}
	ev := ws[1]
	customer := ev.Data["customer"].(map[string]any)
	if customer["email"] != "late@example.com" || customer["phone"] != "+48500600700" || customer["customerId"] != newMember ||
		ev.Data["code"] != "tok-"+code {
		t.Errorf("data %v", ev.Data)
	}
	wantID := rules.MessageID(rules.CustomerWasRegisteredWithoutActivation, "member_code", code, lsn, cdc.OpCreate, "")
	if ev.MessageID != wantID || ev.Source.Topic != rec.Topic || ev.Source.Offset != rec.Offset || ev.Source.LSN != lsn ||
		ev.StoreCode != "DEFAULT" || ev.storeHeader != "DEFAULT" {
		t.Errorf("message id %s (want %s), source %+v, store %q/%q", ev.MessageID, wantID, ev.Source, ev.StoreCode, ev.storeHeader)
	}
	m := p.Metrics()
	// The copy waited for the member too; copies of one change do not hold each other.
	if n := awaitCounter(ctx, t, 2, m.DeferredChanges.WithLabelValues("member")); n != 2 {
		t.Errorf("%v changes deferred for their member, want the change and its copy", n)
	}
	if n := counter(t, m.DeferredChanges.WithLabelValues("order")); n != 0 {
		t.Errorf("%v changes held behind an earlier one, want none", n)
	}
	if n, sum := awaitObserved(ctx, t, 2, m.DeferredWaitSeconds.WithLabelValues("member")); n != 2 || sum != 2 {
		t.Errorf("waits for a member: %d observed, %v s in all; want the change and its copy, 1 s each", n, sum)
	}
	if n := awaitCounter(ctx, t, 1, m.DuplicatesDropped); n != 1 {
		t.Errorf("%v duplicates dropped, want the redelivered copy's event", n)
	}
	if n := counter(t, m.DeferredAfterGrace.WithLabelValues("member")) + counter(t, m.LookupMisses.WithLabelValues("member")); n != 0 {
		t.Errorf("%v misses of the member counted", n)
	}
	if e.waiting(ctx, "member_code/"+code, rec) || len(e.holds(ctx, "member_code/"+code)) != 0 {
		t.Error("the change still waits, or holds its row, after its event went out")
	}
}

// TestLateTransfer: wallet updates read before the unit_transfer that moved them. The first
// waits for its transfer and goes out as the P2P change it is, with the transfer's actionCause;
// the second, whose transfer is known, waits behind the first, so the wallet's balances reach the
// topic in order.
func TestLateTransfer(t *testing.T) {
	e := newTimerEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e.snapshot()
	var (
		t0, t1, t2 = id('f', 0), id('f', 1), id('f', 2)
		cause      = `{"campaignId":null,"customerId":"` + memberID + `","transactionId":null,"customEventId":null,"internalEventName":"p2p_transfer"}`
	)
	transfer := func(id, typ, cause string) *cdc.Row {
		c := cdc.Value{}
		if cause != "" {
			c = cdc.JSONValue(cause)
		}
		return row("transfer_id", id, "tenant_id", tenantID, "wallet_id", walletID, "member_id", memberID, "type", typ,
			"units", cdc.DecimalValue("10"), "pending", false, "cancelled", false, "action_cause", c)
	}
	wallet := func(units, last string) *cdc.Row {
		return row("wallet_id", walletID, "tenant_id", tenantID, "member_id", memberID, "wallet_type_code", "default",
			"active_units", cdc.DecimalValue(units), "last_transfer_id", last)
	}
	e.change("unit_transfer", cdc.OpRead, t0, nil, transfer(t0, "adding", ""))
	e.change("wallet", cdc.OpRead, walletID, nil, wallet("100", t0))
	p := e.start(ctx, "it-1")
	e.caughtUp(ctx) // the snapshot is read: its rows are there

	first := e.change("wallet", cdc.OpUpdate, walletID, wallet("100", t0), wallet("90", t1)) // t1 not read yet
	e.change("unit_transfer", cdc.OpCreate, t2, nil, transfer(t2, "spending", ""))
	e.caughtUp(ctx) // t2 is known before the update that needs it is read
	second := e.change("wallet", cdc.OpUpdate, walletID, wallet("90", t1), wallet("85", t2))
	e.caughtUp(ctx)
	if ws := e.webhooks(ctx); len(ws) != 0 {
		t.Fatalf("events before the transfer arrived: %v", ws)
	}
	if !e.waiting(ctx, "wallet/"+walletID, first) || !e.waiting(ctx, "wallet/"+walletID, second) {
		t.Fatal("the wallet updates are not both waiting")
	}
	m := p.Metrics()
	if a, b := awaitCounter(ctx, t, 1, m.DeferredChanges.WithLabelValues("unit_transfer")), awaitCounter(ctx, t, 1, m.DeferredChanges.WithLabelValues("order")); a != 1 || b != 1 {
		t.Errorf("deferred for their transfer %v, behind an earlier change %v; want 1 and 1", a, b)
	}

	e.change("unit_transfer", cdc.OpCreate, t1, nil, transfer(t1, "p2p_spending", cause))
	e.caughtUp(ctx)
	e.tick(ctx, p, time.Second)
	e.tick(ctx, p, time.Second) // the second goes out with the first, or one attempt later
	ws := only(e.webhooks(ctx), rules.AvailablePointsAmountChanged)
	var got []string
	for _, w := range ws {
		got = append(got, fmt.Sprintf("%s %v %v", w.Data["transferId"], w.Data["amount"].(*big.Rat).RatString(), w.Data["amountChangeType"]))
	}
	want := []string{t1 + " 90 p2p_subtract", t2 + " 85 subtract"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("balance changes in topic order\n got %q\nwant %q", got, want)
	}
	ac, _ := ws[0].Data["actionCause"].(map[string]any)
	if ac["customerId"] != memberID || ac["internalEventName"] != "p2p_transfer" {
		t.Errorf("actionCause %v", ws[0].Data["actionCause"])
	}
	if ws[0].Source.Offset != first.Offset || ws[1].Source.Offset != second.Offset {
		t.Errorf("sources %+v, %+v", ws[0].Source, ws[1].Source)
	}
	if len(e.holds(ctx, "wallet/"+walletID)) != 0 {
		t.Error("the wallet is still held")
	}
}

// TestLateTenant: a member registered in a store whose tenant row has not arrived goes out with
// the right store code once it has.
func TestLateTenant(t *testing.T) {
	e := newTimerEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e.snapshot()
	p := e.start(ctx, "it-1")
	e.caughtUp(ctx) // the snapshot is read: its rows are there
	const tenantC = "6f1c1a52-3c1e-4b8e-9d1e-0a0000000003"
	newMember := id('e', 3)
	e.change("member", cdc.OpCreate, newMember, nil, row("member_id", newMember, "tenant_id", tenantC, "active", true,
		"email", "c@example.com"))
	e.caughtUp(ctx)
	e.tick(ctx, p, time.Second) // an attempt before the tenant: it waits on
	if ws := e.webhooks(ctx); len(ws) != 0 {
		t.Fatalf("events before the tenant arrived: %v", ws)
	}
	e.change("tenant", cdc.OpCreate, tenantC, nil, row("tenant_id", tenantC, "code", "C", "name", "Store C"))
	e.caughtUp(ctx)
	e.tick(ctx, p, 2*time.Second)
	ws := e.webhooks(ctx)
	if len(ws) != 1 || ws[0].EventName != rules.CustomerRegistered || ws[0].StoreCode != "C" || ws[0].storeHeader != "C" {
		t.Fatalf("events %v, store %q", ws, ws[0].StoreCode)
	}
	if n, sum := awaitObserved(ctx, t, 1, p.Metrics().DeferredWaitSeconds.WithLabelValues("tenant")); n != 1 || sum != 3 {
		t.Errorf("waits for a tenant: %d observed, %v s; want one of 3 s", n, sum)
	}
}

// TestLookupNeverComes: a member_code whose member never arrives goes out after the grace, with
// nulls in the customer's place, counted.
func TestLookupNeverComes(t *testing.T) {
	e := newTimerEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e.snapshot()
	p := e.start(ctx, "it-1")
	e.caughtUp(ctx) // the snapshot is read: its rows are there
	ghost := id('e', 4)
	const code = "c0000000-0000-4000-8000-000000000004"
	rec := e.change("member_code", cdc.OpCreate, code, nil, memberCodeRow(code, ghost, "password_reset"))
	e.caughtUp(ctx)
	e.tick(ctx, p, time.Second)
	e.tick(ctx, p, 2*time.Second)
	if ws := e.webhooks(ctx); len(ws) != 0 {
		t.Fatalf("events inside the grace: %v", ws)
	}
	if !e.waiting(ctx, "member_code/"+code, rec) {
		t.Fatal("the change no longer waits inside its grace")
	}
	e.tick(ctx, p, 27*time.Second) // 30 s after the first deferral
	ws := e.webhooks(ctx)
	if len(ws) != 1 || ws[0].EventName != rules.CustomerRequestedPasswordReset {
		t.Fatalf("events %v", ws)
	}
	customer := ws[0].Data["customer"].(map[string]any)
	if customer["customerId"] != ghost || customer["email"] != nil || customer["phone"] != nil || ws[0].StoreCode != "DEFAULT" {
		t.Errorf("data %v, store %q", ws[0].Data, ws[0].StoreCode)
	}
	m := p.Metrics()
	if n := awaitCounter(ctx, t, 1, m.DeferredAfterGrace.WithLabelValues("member")); n != 1 {
		t.Errorf("%v emissions after the grace counted for member, want 1", n)
	}
	if n := awaitCounter(ctx, t, 1, m.LookupMisses.WithLabelValues("member")); n < 1 {
		t.Errorf("%v member misses counted", n)
	}
	if n, sum := awaitObserved(ctx, t, 1, m.DeferredWaitSeconds.WithLabelValues("member")); n != 1 || sum != 30 {
		t.Errorf("waits: %d observed, %v s; want one of 30 s", n, sum)
	}
	if e.waiting(ctx, "member_code/"+code, rec) {
		t.Error("the change still waits after its event went out")
	}
}

// abortAfterClaim claims through Redis, but the first batch that claims message id id dies
// after its claims: between runs, and the batch is aborted and polled again.
type abortAfterClaim struct {
	*claim.Redis
	id      string
	between func()
	done    atomic.Bool
}

func (a *abortAfterClaim) Claim(ctx context.Context, claims []claim.Claim) error {
	if err := a.Redis.Claim(ctx, claims); err != nil {
		return err
	}
	for _, c := range claims {
		if c.MessageID == a.id && a.done.CompareAndSwap(false, true) {
			a.between()
			return errors.New("the batch dies after its claims")
		}
	}
	return nil
}

// TestReplayKeepsClaimedEvents: a batch emits a member_code's event at once, claims it and
// aborts; before its replay an earlier change of the same row comes to wait, so the replay
// would hold the member_code behind it. The event is claimed by the member_code's own record,
// which alone may emit it now: it goes out in the replay rather than wait, once.
func TestReplayKeepsClaimedEvents(t *testing.T) {
	e := newTimerEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e.snapshot()
	const code = "c0000000-0000-4000-8000-000000000005"
	row := "member_code/" + code
	lsn := e.lsn + 8 // the member_code's, produced below
	opts, err := redis.ParseURL(e.cfg.Redis.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	claimer := &abortAfterClaim{Redis: claim.NewRedis(rdb, e.cfg.Redis.KeyPrefix, time.Hour),
		id: rules.MessageID(rules.CustomerEmailWasChanged, "member_code", code, lsn, cdc.OpCreate, "")}
	claimer.between = func() {
		earlier := timer.Hold{ID: "loyalty.public.member_code/9/1", Position: lsn - 1, Since: e.clock.Now()}
		d := timer.Deferral{ID: earlier.ID, Row: row, At: e.clock.Now().Add(time.Hour), First: true, Hold: earlier,
			Record: []byte(`{}`)}
		if err := e.store.Defer(ctx, []timer.Deferral{d}, nil, time.Hour); err != nil {
			t.Error(err)
		}
	}
	p := e.start(ctx, "it-1", processor.WithClaimer(claimer))
	e.caughtUp(ctx) // the snapshot is read: its rows are there
	e.change("member_code", cdc.OpCreate, code, nil, memberCodeRow(code, memberID, "email_change"))
	e.caughtUp(ctx)
	if !claimer.done.Load() {
		t.Fatal("the batch of the member_code never died")
	}
	if len(e.holds(ctx, row)) == 0 {
		t.Fatal("no change of the row waits: the replay was not put to the test")
	}
	ws := e.webhooks(ctx)
	if len(ws) != 1 || ws[0].MessageID != claimer.id {
		t.Fatalf("events %v, want the member_code's once", ws)
	}
	e.tick(ctx, p, 31*time.Second) // anything left waiting would come back now
	if ws := e.webhooks(ctx); len(ws) != 1 {
		t.Fatalf("events %v after the grace, want the one", ws)
	}
}

// TestLateRowInSameBatch: within one batch, changes read before the rows they need (a member
// code before its member, a wallet update before its transfer), and a later change of the same
// wallet, are built at the end of the batch, once those rows are recorded: nothing waits in
// Redis, and the wallet's events keep their order.
func TestLateRowInSameBatch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	dec, err := cdc.NewDecoder(e.cfg.Source, nil)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	w, err := schemas.NewWriter(ctx, codec, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	store := timer.NewStore(rdb, "sb:")
	p := &processor.Pipeline{Decoder: dec, Encoder: w, Claimer: claim.NewRedis(rdb, "sb:", time.Hour),
		Lookups: lookup.NewStore(rdb, "sb:"), Timers: store, TimersTopic: e.cfg.Topics.Timers,
		WebhookTopic: e.cfg.Topics.Webhooks, DeadTopic: e.cfg.Topics.CDCDeadLetter, Metrics: processor.NewMetrics(nil),
		Now:  func() time.Time { return t0 },
		Late: &processor.LateLookups{Delays: []time.Duration{time.Second}, Grace: 30 * time.Second}}
	var offset int64
	record := func(table string, op cdc.Op, key string, before, after *cdc.Row) *kgo.Record {
		e.lsn += 8
		ch := &cdc.Change{Table: table, Op: op, Before: before, After: after, Key: row(keyColumn(table), key),
			Source: cdc.Source{TsMs: 1767225600000 + e.lsn, Snapshot: "false", DB: "loyalty", Schema: "public",
				Table: table, LSN: e.lsn}}
		topic, k, v, err := e.enc.Encode(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		offset++
		return &kgo.Record{Topic: topic, Key: k, Value: v, Offset: offset}
	}
	newMember, t0id, t1id := id('e', 6), id('f', 0), id('f', 1)
	const code = "c0000000-0000-4000-8000-000000000006"
	transfer := func(id, typ string) *cdc.Row {
		return row("transfer_id", id, "tenant_id", tenantID, "wallet_id", walletID, "member_id", memberID, "type", typ)
	}
	wallet := func(units, last string) *cdc.Row {
		return row("wallet_id", walletID, "tenant_id", tenantID, "member_id", memberID, "active_units", cdc.DecimalValue(units),
			"last_transfer_id", last)
	}
	out, err := p.Process(ctx, []*kgo.Record{
		record("tenant", cdc.OpRead, tenantID, nil, row("tenant_id", tenantID, "code", "DEFAULT")),
		record("member", cdc.OpRead, memberID, nil, row("member_id", memberID, "tenant_id", tenantID, "email", "m@example.com")),
		record("unit_transfer", cdc.OpRead, t0id, nil, transfer(t0id, "adding")),
		record("wallet", cdc.OpRead, walletID, nil, wallet("100", t0id)),
		record("member_code", cdc.OpCreate, code, nil, memberCodeRow(code, newMember, "registration")),
		record("wallet", cdc.OpUpdate, walletID, wallet("100", t0id), wallet("90", t1id)),
		record("wallet", cdc.OpUpdate, walletID, wallet("90", t1id), wallet("85", t0id)),
		record("member", cdc.OpCreate, newMember, nil, row("member_id", newMember, "tenant_id", tenantID,
			"active", true, "email", "same@example.com", "phone", "+48100200300")),
		record("unit_transfer", cdc.OpCreate, t1id, nil, transfer(t1id, "p2p_spending")),
	})
	if err != nil {
		t.Fatal(err)
	}
	reader := schemas.NewReader(codec, nil)
	var got []string
	for _, r := range out {
		ev, err := reader.Decode(r.Value)
		if err != nil {
			t.Fatalf("%s: %v", r.Topic, err)
		}
		desc := ev.EventName
		switch ev.EventName {
		case rules.CustomerWasRegisteredWithoutActivation:
			c := ev.Data["customer"].(map[string]any)
			desc += fmt.Sprintf(" %v %v", c["email"], c["phone"])
		case rules.AvailablePointsAmountChanged:
			desc += fmt.Sprintf(" %v %v", ev.Data["amount"].(*big.Rat).RatString(), ev.Data["amountChangeType"])
		}
		got = append(got, desc)
	}
	want := []string{"CustomerRegistered", "CustomerWasRegisteredWithoutActivation same@example.com +48100200300",
		"AvailablePointsAmountChanged 90 p2p_subtract", "AvailablePointsAmountChanged 85 subtract"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events\n got %q\nwant %q", got, want)
	}
	holds, err := store.Holds(ctx, []string{"member_code/" + code, "wallet/" + walletID})
	if err != nil || len(holds) != 0 {
		t.Errorf("holds %v %v: changes waited in Redis", holds, err)
	}
}
