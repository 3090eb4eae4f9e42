package rules

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/processor/lookup"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
)

func names(evs []Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.EventName)
	}
	return out
}

func apply(t *testing.T, view *lookup.View, chs ...*cdc.Change) []Event {
	t.Helper()
	var evs []Event
	for _, ch := range chs {
		var err error
		if evs, err = Apply(ch, view, evs); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	return evs
}

func memberCodeRow(purpose string) *cdc.Row {
	return row("code_id", "cc000000-0000-4000-8000-000000000001", "tenant_id", tenant1, "member_id", member1,
		"purpose", purpose, "code", "tok-"+purpose, "code_number", "123456",
		"created_at", ts("2026-01-01T09:30:00Z"), "expires_at", ts("2026-01-02T09:30:00Z"))
}

// TestFires checks which triggers each change fires, and that the rest fire nothing.
func TestFires(t *testing.T) {
	inactive := with(memberRow, "active", false)
	noLevel := with(memberRow, "level_id", nil)
	wallet := func(before, after cdc.Value) *cdc.Change {
		return update("wallet", with(walletRow, "active_units", before), with(walletRow, "active_units", after), 3000)
	}
	cases := []struct {
		name string
		ch   *cdc.Change
		want []string
	}{
		{"member insert, active, with level", insert("member", memberRow, 1), []string{CustomerRegistered, CustomerLevelChanged}},
		{"member insert, active, no level", insert("member", noLevel, 1), []string{CustomerRegistered}},
		{"member insert, inactive, no level", insert("member", with(noLevel, "active", false), 1), nil},
		{"member insert, inactive, with level", insert("member", inactive, 1), []string{CustomerLevelChanged}},
		{"member insert, active null", insert("member", with(noLevel, "active", nil), 1), nil},
		{"member snapshot read", change("member", cdc.OpRead, nil, memberRow, 1), nil},
		{"member delete", change("member", cdc.OpDelete, memberRow, nil, 1), nil},
		{"member truncate", &cdc.Change{Table: "member", Op: cdc.OpTruncate}, nil},
		{"logical message", &cdc.Change{Op: cdc.OpMessage, Message: &cdc.Message{Prefix: "x"}}, nil},
		{"table no rule watches", insert("tier", row("tier_id", tierGold, "rank", 3), 1), nil},

		{"member update, email", update("member", memberRow, with(memberRow, "email", "new@example.com"), 2), []string{CustomerUpdated}},
		{"member update, email to null", update("member", memberRow, with(memberRow, "email", nil), 2), []string{CustomerUpdated}},
		{"member update, address", update("member", memberRow, with(memberRow, "address", js(`{"city":"Kraków"}`)), 2), []string{CustomerUpdated}},
		{"member update, birth date", update("member", memberRow, with(memberRow, "birth_date", day("1990-05-18")), 2), []string{CustomerUpdated}},
		{"member update, agreement2", update("member", memberRow, with(memberRow, "agreement2", true), 2), []string{CustomerUpdated}},
		{"member update, only updated_at", update("member", memberRow, with(memberRow, "updated_at", ts("2026-02-01T00:00:00Z")), 2), nil},
		{"member update, nothing", update("member", memberRow, memberRow, 2), nil},
		{"member update, address unavailable after", update("member", memberRow, with(memberRow, "address", unavailable), 2), nil},
		{"member update, custom attributes unavailable before", update("member", with(memberRow, "custom_attributes", unavailable), with(memberRow, "custom_attributes", js(`[]`)), 2), nil},
		{"member update, projected level only", update("member", memberRow, with(memberRow, "projected_level_id", tierBronz), 2), nil},
		{"member update, no before image", update("member", nil, with(memberRow, "email", "x@example.com"), 2), nil},
		{"member update, level up", update("member", memberRow, with(memberRow, "level_id", tierGold), 2), []string{CustomerUpdated, CustomerLevelChanged}},
		{"member update, level removed", update("member", memberRow, with(memberRow, "level_id", nil), 2), []string{CustomerUpdated}},
		{"member update, level unavailable", update("member", memberRow, with(memberRow, "level_id", unavailable), 2), nil},
		{"member update, deactivated", update("member", memberRow, inactive, 2), []string{CustomerDeactivated}},
		{"member update, activated", update("member", inactive, memberRow, 2), nil},
		{"member update, stays inactive", update("member", inactive, inactive, 2), nil},
		{"member update, active unavailable", update("member", memberRow, with(memberRow, "active", unavailable), 2), nil},
		{"member update, deactivated with new email", update("member", memberRow, with(inactive, "email", "x@example.com"), 2), []string{CustomerUpdated, CustomerDeactivated}},

		{"code registration", insert("member_code", memberCodeRow("registration"), 3), []string{CustomerWasRegisteredWithoutActivation}},
		{"code activation resend", insert("member_code", memberCodeRow("activation_resend"), 3), []string{CustomerRequestedSendActivationCode}},
		{"code password reset", insert("member_code", memberCodeRow("password_reset"), 3), []string{CustomerRequestedPasswordReset}},
		{"code email change", insert("member_code", memberCodeRow("email_change"), 3), []string{CustomerEmailWasChanged}},
		{"code phone change", insert("member_code", memberCodeRow("phone_change"), 3), []string{CustomerPhoneNumberWasChanged}},
		{"code other purpose", insert("member_code", memberCodeRow("two_factor"), 3), nil},
		{"code update", update("member_code", memberCodeRow("registration"), with(memberCodeRow("registration"), "code", "tok-2"), 3), nil},
		{"code snapshot", change("member_code", cdc.OpRead, nil, memberCodeRow("registration"), 3), nil},

		{"transaction insert", insert("transaction", transactionRow, 4), []string{TransactionRegistered}},
		{"transaction assigned", update("transaction", transactionRow, with(transactionRow, "member_id", member1), 4), []string{TransactionAssignedToCustomer}},
		{"transaction reassigned", update("transaction", with(transactionRow, "member_id", member2), with(transactionRow, "member_id", member1), 4), []string{TransactionAssignedToCustomer}},
		{"transaction unassigned", update("transaction", with(transactionRow, "member_id", member1), transactionRow, 4), nil},
		{"transaction same member", update("transaction", with(transactionRow, "member_id", member1), with(transactionRow, "member_id", member1, "gross_value", dec("1")), 4), nil},
		{"transaction member unavailable", update("transaction", transactionRow, with(transactionRow, "member_id", unavailable), 4), nil},

		{"wallet spend", wallet(dec("100.50"), dec("90.25")), []string{AvailablePointsAmountChanged}},
		{"wallet same number", wallet(dec("1.50"), dec("1.5")), nil},
		{"wallet zero to zero", wallet(dec("0"), dec("0.000")), nil},
		{"wallet unavailable after", wallet(dec("1"), unavailable), nil},
		{"wallet unavailable before", wallet(unavailable, dec("1")), nil},
		{"wallet null to 5", wallet(cdc.Value{}, dec("5")), []string{AvailablePointsAmountChanged}},
		{"wallet other column", update("wallet", walletRow, with(walletRow, "spent_units", dec("3")), 3000), nil},
		{"wallet insert non-zero", insert("wallet", walletRow, 3000), []string{AvailablePointsAmountChanged}},
		{"wallet insert zero", insert("wallet", with(walletRow, "active_units", dec("0.00")), 3000), nil},
		{"wallet insert null", insert("wallet", with(walletRow, "active_units", nil), 3000), nil},
		{"wallet snapshot", change("wallet", cdc.OpRead, nil, walletRow, 3000), nil},

		{"issued reward insert", insert("issued_reward", issuedRewardRow, 5), []string{CustomerBoughtReward}},
		{"issued reward status", update("issued_reward", issuedRewardRow, with(issuedRewardRow, "status", "shipped"), 5), []string{RewardRedemptionStatusChanged}},
		{"issued reward comment only", update("issued_reward", issuedRewardRow, with(issuedRewardRow, "status_comment", "hm"), 5), nil},
		{"issued reward status unavailable", update("issued_reward", issuedRewardRow, with(issuedRewardRow, "status", unavailable), 5), nil},

		{"effect insert success", insert("campaign_effect_result", effectRow, 6), []string{CampaignEffectWasApplied}},
		{"effect insert skipped", insert("campaign_effect_result", with(effectRow, "status", "skipped"), 6), nil},
		{"effect update to success", update("campaign_effect_result", with(effectRow, "status", "skipped"), effectRow, 6), []string{CampaignEffectWasApplied}},
		{"effect update success to success", update("campaign_effect_result", effectRow, with(effectRow, "points", dec("3")), 6), nil},
		{"effect update to failed", update("campaign_effect_result", with(effectRow, "status", "skipped"), with(effectRow, "status", "failed"), 6), nil},
		{"effect update from unavailable", update("campaign_effect_result", with(effectRow, "status", unavailable), effectRow, 6), nil},
		{"effect snapshot", change("campaign_effect_result", cdc.OpRead, nil, effectRow, 6), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs, err := Apply(c.ch, world(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(evs); !reflect.DeepEqual(got, c.want) {
				t.Errorf("fired %v, want %v", got, c.want)
			}
		})
	}
}

type goldenCase struct {
	name    string
	changes []*cdc.Change
}

// goldenCases are the changes of the golden tests, at least one per trigger.
func goldenCases() []goldenCase {
	wallet2Row := with(walletRow, "wallet_id", wallet2, "member_id", member2, "active_units", dec("0"), "last_transfer_id", nil)
	return []goldenCase{
		{"member_insert", []*cdc.Change{insert("member", memberRow, 1001)}},
		{"member_update_email", []*cdc.Change{update("member", memberRow, with(memberRow, "email", "anna.nowak@example.com", "address", unavailable), 1002)}},
		{"member_level_up", []*cdc.Change{update("member", memberRow, with(memberRow, "level_id", tierGold), 1003)}},
		{"member_level_down", []*cdc.Change{update("member", memberRow, with(memberRow, "level_id", tierBronz), 1004)}},
		{"member_deactivated", []*cdc.Change{update("member", memberRow, with(memberRow, "active", false), 1005)}},
		{"member_code_registration", []*cdc.Change{insert("member_code", memberCodeRow("registration"), 1011)}},
		{"member_code_activation_resend", []*cdc.Change{insert("member_code", memberCodeRow("activation_resend"), 1012)}},
		{"member_code_password_reset", []*cdc.Change{insert("member_code", memberCodeRow("password_reset"), 1013)}},
		{"member_code_email_change", []*cdc.Change{insert("member_code", memberCodeRow("email_change"), 1014)}},
		{"member_code_phone_change", []*cdc.Change{insert("member_code", memberCodeRow("phone_change"), 1015)}},
		{"transaction_insert", []*cdc.Change{insert("transaction", transactionRow, 1021)}},
		{"transaction_assigned", []*cdc.Change{update("transaction", transactionRow, with(transactionRow, "member_id", member1), 1022)}},
		{"wallet_spend", []*cdc.Change{update("wallet", walletRow, with(walletRow, "active_units", dec("90.25")), 1031)}},
		{"wallet_p2p", []*cdc.Change{
			update("wallet", walletRow, with(walletRow, "active_units", dec("90.50"), "last_transfer_id", transferS), 1032),
			update("wallet", wallet2Row, with(wallet2Row, "active_units", dec("10"), "last_transfer_id", transferA), 1033),
		}},
		{"redemption_status", []*cdc.Change{update("issued_reward", issuedRewardRow, with(issuedRewardRow,
			"status", "shipped", "status_comment", "sent by courier", "status_changed_at", ts("2026-01-05T15:00:00Z")), 1041)}},
		{"redemption_status_no_coupon", []*cdc.Change{update("issued_reward",
			with(issuedRewardRow, "coupon_code", nil, "reward_type", "material", "status_comment", "packed"),
			with(issuedRewardRow, "coupon_code", nil, "reward_type", "material", "status", "packing", "status_comment", unavailable), 1042)}},
		{"reward_bought", []*cdc.Change{insert("issued_reward", issuedRewardRow, 1043)}},
		{"campaign_effect", []*cdc.Change{insert("campaign_effect_result", effectRow, 1051)}},
		{"campaign_effect_internal_event", []*cdc.Change{update("campaign_effect_result", with(effectRow, "status", "skipped"), with(effectRow,
			"type", "give_reward", "points", nil, "reward_id", reward1, "coupon_value", dec("5"), "redemption_code", "CODE-9",
			"trigger", js(`{"type":"internal_event","triggerId":"9b000000-0000-4000-8000-000000000001","payload":{"name":"birthday","when":{"d":1}}}`)), 1052)}},
	}
}

// TestGolden checks the exact events of each trigger against testdata/<name>.json.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			golden(t, c.name, apply(t, world(), c.changes...))
		})
	}
}

// TestCodecAcceptsEvents encodes the golden events with the webhook topic's own codec, in Avro
// and as the JSON body subscribers receive.
func TestCodecAcceptsEvents(t *testing.T) {
	codec, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range goldenCases() {
		for _, ev := range apply(t, world(), c.changes...) {
			if _, err := codec.Append(nil, &ev.Event); err != nil {
				t.Errorf("%s %s: %v", c.name, ev.EventName, err)
			}
			body, err := codec.AppendJSON(nil, &ev.Event, "")
			if err != nil || !json.Valid(body) {
				t.Errorf("%s %s: JSON %v: %s", c.name, ev.EventName, err, body)
			}
		}
	}
}

// TestMissingLookups checks that rows not in the view give nulls, not errors, and are counted.
func TestMissingLookups(t *testing.T) {
	stranger := "1a000000-0000-4000-8000-0000000000ff"
	view := lookup.NewView()
	evs := apply(t, view,
		insert("member_code", with(memberCodeRow("registration"), "member_id", stranger), 2001),
		update("wallet", walletRow, with(walletRow, "active_units", dec("90.25")), 2002),
		insert("issued_reward", issuedRewardRow, 2003),
		update("member", memberRow, with(memberRow, "level_id", tierGold), 2004),
		insert("campaign_effect_result", effectRow, 2005),
	)
	golden(t, "lookups_missing", evs)
	want := map[string]int{"tenant": 5, "member": 4, "unit_transfer": 1, "reward": 1, "tier": 2, "campaign": 1}
	if got := view.Misses(); !reflect.DeepEqual(got, want) {
		t.Errorf("misses %v, want %v", got, want)
	}
	for _, ev := range evs {
		if ev.StoreCode != "" {
			t.Errorf("%s: store code %q without a tenant row", ev.EventName, ev.StoreCode)
		}
	}
}

// TestLevelMoves checks levelMoveUp and levelMoveDown against tier ranks.
func TestLevelMoves(t *testing.T) {
	view := func(drop ...string) *lookup.View {
		v := world()
		for _, id := range drop {
			v.Load(lookup.Ref{Table: "tier", Key: id}, nil)
		}
		return v
	}
	cases := []struct {
		name       string
		ch         *cdc.Change
		view       *lookup.View
		up, down   bool
		tierMisses int
	}{
		{"first assignment on insert", insert("member", with(memberRow, "level_id", tierGold), 1), view(), false, false, 0},
		{"first assignment on update", update("member", with(memberRow, "level_id", nil), with(memberRow, "level_id", tierGold), 1), view(), false, false, 0},
		{"up", update("member", memberRow, with(memberRow, "level_id", tierGold), 1), view(), true, false, 0},
		{"down", update("member", memberRow, with(memberRow, "level_id", tierBronz), 1), view(), false, true, 0},
		{"same rank", update("member", memberRow, with(memberRow, "level_id", tierSilv2), 1), view(), false, false, 0},
		{"new tier unknown", update("member", memberRow, with(memberRow, "level_id", tierGold), 1), view(tierGold), false, false, 1},
		{"old tier unknown", update("member", memberRow, with(memberRow, "level_id", tierGold), 1), view(tierSilv), false, false, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs, err := Apply(c.ch, c.view, nil)
			if err != nil {
				t.Fatal(err)
			}
			var level map[string]any
			for _, ev := range evs {
				if ev.EventName == CustomerLevelChanged {
					level = ev.Data["level"].(map[string]any)
				}
			}
			if level == nil {
				t.Fatalf("no %s in %v", CustomerLevelChanged, names(evs))
			}
			if level["levelMoveUp"] != c.up || level["levelMoveDown"] != c.down {
				t.Errorf("up %v down %v, want %v %v", level["levelMoveUp"], level["levelMoveDown"], c.up, c.down)
			}
			if got := c.view.Misses()["tier"]; got != c.tierMisses {
				t.Errorf("%d tier misses, want %d", got, c.tierMisses)
			}
		})
	}
}

// TestAmountsExact checks balance changes are computed exactly, whatever the magnitudes.
func TestAmountsExact(t *testing.T) {
	cases := []struct {
		before, after      cdc.Value
		amount, change, ty string
		transfer           string
	}{
		{dec("0.1"), dec("0.3"), "0.3", "0.2", "add", transfer1},
		{dec("0.3"), dec("0.1"), "0.1", "0.2", "subtract", transfer1},
		{dec("-5"), dec("3"), "3", "8", "add", transfer1},
		{dec("3"), dec("-0.00000001"), "-0.00000001", "3.00000001", "subtract", transfer1},
		{dec("99999999999999999999999999999.99999999"), dec("0.00000001"), "0.00000001", "99999999999999999999999999999.99999998", "subtract", transfer1},
		{dec("1e3"), dec("1000.5"), "1000.5", "0.5", "add", transfer1},
		{cdc.IntValue(7), cdc.IntValue(2), "2", "5", "subtract", transfer1},
		{dec("5"), cdc.Value{}, "", "5", "subtract", transfer1},
		// A P2P type applies only in its own direction.
		{dec("10"), dec("20"), "20", "10", "p2p_add", transferA},
		{dec("20"), dec("10"), "10", "10", "subtract", transferA},
		{dec("20"), dec("10"), "10", "10", "p2p_subtract", transferS},
		{dec("10"), dec("20"), "20", "10", "add", transferS},
	}
	for _, c := range cases {
		ch := update("wallet", with(walletRow, "active_units", c.before), with(walletRow, "active_units", c.after, "last_transfer_id", c.transfer), 3000)
		evs, err := Apply(ch, world(), nil)
		if err != nil || len(evs) != 1 {
			t.Fatalf("%v → %v: %v %v", c.before, c.after, names(evs), err)
		}
		d := evs[0].Data
		if got := ratText(d["amount"]); got != c.amount {
			t.Errorf("%v → %v: amount %s, want %s", c.before.Text(), c.after.Text(), got, c.amount)
		}
		if got := ratText(d["amountChange"]); got != c.change {
			t.Errorf("%v → %v: amountChange %s, want %s", c.before.Text(), c.after.Text(), got, c.change)
		}
		if d["amountChangeType"] != c.ty {
			t.Errorf("%v → %v: type %v, want %s", c.before.Text(), c.after.Text(), d["amountChangeType"], c.ty)
		}
	}
}

func ratText(v any) string {
	r, ok := asRat(v)
	if !ok {
		return ""
	}
	s, _ := decimalText(r)
	return s
}

// TestTwoWalletsTwoEvents checks a P2P transfer gives one event per wallet, keyed by owner.
func TestTwoWalletsTwoEvents(t *testing.T) {
	w2 := with(walletRow, "wallet_id", wallet2, "member_id", member2, "active_units", dec("0"))
	evs := apply(t, world(),
		update("wallet", walletRow, with(walletRow, "active_units", dec("90.50"), "last_transfer_id", transferS), 5000),
		update("wallet", w2, with(w2, "active_units", dec("10"), "last_transfer_id", transferA), 5001),
	)
	if len(evs) != 2 {
		t.Fatalf("got %v", names(evs))
	}
	if evs[0].Key != member1 || evs[1].Key != member2 {
		t.Errorf("keys %s, %s, want %s, %s", evs[0].Key, evs[1].Key, member1, member2)
	}
	if evs[0].MessageID == evs[1].MessageID {
		t.Error("both events have one message id")
	}
	if evs[0].Data["amountChangeType"] != "p2p_subtract" || evs[1].Data["amountChangeType"] != "p2p_add" {
		t.Errorf("types %v, %v", evs[0].Data["amountChangeType"], evs[1].Data["amountChangeType"])
	}
}

// TestMessageID checks message ids are stable for a redelivered change and differ otherwise.
func TestMessageID(t *testing.T) {
	ch := func(lsn int64, offset int64) *cdc.Change {
		c := update("member", memberRow, with(memberRow, "email", "x@example.com", "level_id", tierGold, "active", false), lsn)
		c.Source.Offset = offset
		return c
	}
	first := apply(t, world(), ch(100, 1))
	again := apply(t, world(), ch(100, 999)) // redelivered after a connector restart
	other := apply(t, world(), ch(101, 2))
	if len(first) != 3 {
		t.Fatalf("fired %v", names(first))
	}
	seen := map[string]bool{}
	for i := range first {
		if first[i].MessageID != again[i].MessageID {
			t.Errorf("%s: redelivery changed the id", first[i].EventName)
		}
		if first[i].MessageID == other[i].MessageID {
			t.Errorf("%s: another LSN kept the id", first[i].EventName)
		}
		if seen[first[i].MessageID] {
			t.Errorf("%s: id shared with another trigger", first[i].EventName)
		}
		seen[first[i].MessageID] = true
		if _, err := uuid.Parse(first[i].MessageID); err != nil {
			t.Error(err)
		}
	}

	id := MessageID(CustomerUpdated, "member", member1, 42, cdc.OpUpdate, "")
	want := uuid.NewSHA1(messageNamespace, []byte(CustomerUpdated+"\x1fmember\x1f"+member1+"\x1f42\x1fu\x1f")).String()
	if id != want {
		t.Errorf("MessageID %s, want uuid.NewSHA1 %s", id, want)
	}
	if u := uuid.MustParse(id); u.Version() != 5 || u.Variant() != uuid.RFC4122 {
		t.Errorf("version %d variant %v", u.Version(), u.Variant())
	}
	for _, other := range []string{
		MessageID(CustomerUpdated, "member", member1, 42, cdc.OpUpdate, "2"),
		MessageID(CustomerUpdated, "member", member1, 43, cdc.OpUpdate, ""),
		MessageID(CustomerUpdated, "member", member1, 42, cdc.OpCreate, ""),
		MessageID(CustomerUpdated, "member", member2, 42, cdc.OpUpdate, ""),
		MessageID(CustomerUpdated, "wallet", member1, 42, cdc.OpUpdate, ""),
		MessageID(CustomerDeactivated, "member", member1, 42, cdc.OpUpdate, ""),
	} {
		if other == id {
			t.Errorf("a different input gave the same id %s", id)
		}
	}
}

// TestEnvelope checks the fields around data: key, store code, creation time and source.
func TestEnvelope(t *testing.T) {
	ch := insert("transaction", transactionRow, 1234)
	evs := apply(t, world(), ch)
	if len(evs) != 1 {
		t.Fatalf("fired %v", names(evs))
	}
	ev := evs[0]
	if ev.Key != "9a000000-0000-4000-8000-000000000001" {
		t.Errorf("key %s: an unmatched transaction is keyed by its id", ev.Key)
	}
	if ev.StoreCode != "DEFAULT" {
		t.Errorf("store code %q", ev.StoreCode)
	}
	if !ev.CreatedAt.Equal(time.UnixMilli(ch.Source.TsMs)) || ev.CreatedAt.Location() != time.UTC {
		t.Errorf("createdAt %v, want source.ts_ms %d in UTC", ev.CreatedAt, ch.Source.TsMs)
	}
	src := ev.Source
	if src.Topic != "loyalty.public.transaction" || src.Partition != 2 || src.Offset != 234 ||
		src.Table != "transaction" || src.Op != "c" || src.LSN != 1234 || src.TxID != 7001 {
		t.Errorf("source %+v", src)
	}
	assigned := apply(t, world(), update("transaction", transactionRow, with(transactionRow, "member_id", member1), 1235))
	if assigned[0].Key != member1 {
		t.Errorf("key %s, want the member", assigned[0].Key)
	}
}

// TestRuleErrors checks malformed values fail the change with the column named and leave dst
// as it was.
func TestRuleErrors(t *testing.T) {
	cases := []struct {
		name, column string
		ch           *cdc.Change
	}{
		{"items not JSON", "items", insert("transaction", with(transactionRow, "items", js(`[{"sku":`)), 1)},
		{"items not an array", "items", insert("transaction", with(transactionRow, "items", js(`{"sku":{}}`)), 1)},
		{"item quantity not a number", "items", insert("transaction", with(transactionRow, "items", js(`[{"quantity":"two"}]`)), 1)},
		{"customer data trailing", "customer_data", insert("transaction", with(transactionRow, "customer_data", js(`{} {}`)), 1)},
		{"address not an object", "address", insert("member", with(memberRow, "address", js(`"Długa 5"`)), 1)},
		{"registered_at not a time", "registered_at", insert("member", with(memberRow, "registered_at", "yesterday"), 1)},
		{"birth date a bool", "birth_date", insert("member", with(memberRow, "birth_date", true), 1)},
		{"gross value NaN", "gross_value", update("transaction", transactionRow, with(transactionRow, "member_id", member1, "gross_value", dec("NaN")), 1)},
		{"coupon value a fraction", "coupon_value", insert("issued_reward", with(issuedRewardRow, "coupon_value", dec("1/3")), 1)},
		{"action cause performedAt", "action_cause", insert("issued_reward", with(issuedRewardRow, "action_cause", js(`{"performedAt":"soon"}`)), 1)},
		{"trigger not JSON", "trigger", insert("campaign_effect_result", with(effectRow, "trigger", js(`{"type":transaction}`)), 1)},
		{"points not decimal", "points", insert("campaign_effect_result", with(effectRow, "points", dec("12,5")), 1)},
		{"balance not decimal", "active_units", update("wallet", walletRow, with(walletRow, "active_units", dec("0x10")), 1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prior := []Event{{Key: "earlier"}}
			dst, err := Apply(c.ch, world(), prior)
			if err == nil {
				t.Fatalf("no error; fired %v", names(dst[1:]))
			}
			if !strings.Contains(err.Error(), "column "+c.column+":") {
				t.Errorf("error %q does not name column %s", err, c.column)
			}
			if len(dst) != 1 || dst[0].Key != "earlier" {
				t.Errorf("dst changed: %d events", len(dst))
			}
		})
	}
	// A member insert that fires two triggers, the second failing, leaves no event behind.
	bad := insert("member", with(memberRow, "address", js(`nope`)), 1)
	if dst, err := Apply(bad, world(), nil); err == nil || len(dst) != 0 {
		t.Errorf("got %v, %v", names(dst), err)
	}
}

// TestReferences checks the lookup rows a change declares.
func TestReferences(t *testing.T) {
	ref := func(table, key string) lookup.Ref { return lookup.Ref{Table: table, Key: key} }
	cases := []struct {
		name string
		ch   *cdc.Change
		want []lookup.Ref
	}{
		{"member update", update("member", memberRow, with(memberRow, "level_id", tierGold, "projected_level_id", tierBronz), 1),
			[]lookup.Ref{ref("tenant", tenant1), ref("settings", tenant1), ref("tier", tierGold), ref("tier", tierSilv), ref("tier", tierBronz)}},
		{"member insert", insert("member", memberRow, 1),
			[]lookup.Ref{ref("tenant", tenant1), ref("settings", tenant1), ref("tier", tierSilv)}},
		{"member snapshot", change("member", cdc.OpRead, nil, memberRow, 1),
			[]lookup.Ref{ref("tenant", tenant1), ref("settings", tenant1), ref("tier", tierSilv)}},
		{"member update, tenant unavailable after", update("member", memberRow, with(memberRow, "tenant_id", unavailable), 1),
			[]lookup.Ref{ref("tenant", tenant1), ref("settings", tenant1), ref("tier", tierSilv)}},
		{"wallet", update("wallet", walletRow, walletRow, 1),
			[]lookup.Ref{ref("tenant", tenant1), ref("settings", tenant1), ref("member", member1), ref("unit_transfer", transfer1)}},
		{"unmatched transaction", insert("transaction", transactionRow, 1),
			[]lookup.Ref{ref("tenant", tenant1), ref("settings", tenant1)}},
		{"issued reward", insert("issued_reward", issuedRewardRow, 1),
			[]lookup.Ref{ref("tenant", tenant1), ref("settings", tenant1), ref("member", member1), ref("reward", reward1)}},
		{"effect", insert("campaign_effect_result", effectRow, 1),
			[]lookup.Ref{ref("tenant", tenant1), ref("settings", tenant1), ref("member", member1), ref("campaign", campaign1)}},
		{"member code", insert("member_code", memberCodeRow("registration"), 1),
			[]lookup.Ref{ref("tenant", tenant1), ref("settings", tenant1), ref("member", member1)}},
		{"member delete", change("member", cdc.OpDelete, memberRow, nil, 1), nil},
		{"tier insert", insert("tier", row("tier_id", tierGold, "tenant_id", tenant1), 1), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prior := []lookup.Ref{ref("tenant", tenant1)} // refs of other changes are not deduplicated
			got := References(c.ch, prior)
			if !reflect.DeepEqual(got[1:], c.want) && !(len(got) == 1 && c.want == nil) {
				t.Errorf("refs %v, want %v", got[1:], c.want)
			}
		})
	}
}

// TestEveryRuleHasSchemaAndGolden keeps the rule table, the schemas and the golden files in step.
func TestEveryRuleHasSchemaAndGolden(t *testing.T) {
	a, err := loadAvro()
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		var evs []struct{ EventName string }
		if err := json.Unmarshal(b, &evs); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, ev := range evs {
			covered[ev.EventName] = true
		}
	}
	for _, ru := range table {
		if a.codec[ru.trigger] == nil {
			t.Errorf("%s: no schemas/triggers/%s.avsc", ru.trigger, ru.trigger)
		}
		if !covered[ru.trigger] {
			t.Errorf("%s: no golden test", ru.trigger)
		}
	}
}

// TestUnavailableAfterImage checks an update's unavailable (unchanged TOAST) columns are read
// from the before image, never reported as null.
func TestUnavailableAfterImage(t *testing.T) {
	after := with(memberRow, "active", false, "loyalty_card_number", unavailable, "email", unavailable)
	evs := apply(t, world(), update("member", memberRow, after, 1))
	if len(evs) != 1 || evs[0].EventName != CustomerDeactivated {
		t.Fatalf("fired %v", names(evs))
	}
	c := evs[0].Data["customer"].(map[string]any)
	if c["loyaltyCardNumber"] != "CARD-0001" || c["email"] != "anna@example.com" {
		t.Errorf("customer %v", c)
	}
}

// TestNoLSN checks changes without an LSN still get distinct, stable ids.
func TestNoLSN(t *testing.T) {
	ch := func(tsMs int64) *cdc.Change {
		c := update("member", memberRow, with(memberRow, "email", "x@example.com"), 0)
		c.Source.TsMs = tsMs
		return c
	}
	a, b, again := apply(t, world(), ch(1)), apply(t, world(), ch(2)), apply(t, world(), ch(1))
	if a[0].MessageID == b[0].MessageID || a[0].MessageID != again[0].MessageID {
		t.Errorf("ids %s %s %s", a[0].MessageID, b[0].MessageID, again[0].MessageID)
	}
}
