package rules

import (
	"fmt"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/processor/lookup"
)

// Test fixtures: rows and changes built in Go, with a small vocabulary.

// Ids of the fixture world.
const (
	tenant1   = "0a000000-0000-4000-8000-000000000001"
	member1   = "1a000000-0000-4000-8000-000000000001"
	member2   = "1a000000-0000-4000-8000-000000000002"
	tierGold  = "2a000000-0000-4000-8000-000000000003"
	tierSilv  = "2a000000-0000-4000-8000-000000000002"
	tierBronz = "2a000000-0000-4000-8000-000000000001"
	tierSilv2 = "2a000000-0000-4000-8000-000000000004" // same rank as silver
	reward1   = "3a000000-0000-4000-8000-000000000001"
	campaign1 = "4a000000-0000-4000-8000-000000000001"
	wallet1   = "5a000000-0000-4000-8000-000000000001"
	wallet2   = "5a000000-0000-4000-8000-000000000002"
	transfer1 = "6a000000-0000-4000-8000-000000000001" // spending, with an action cause
	transferA = "6a000000-0000-4000-8000-00000000000a" // p2p_adding
	transferS = "6a000000-0000-4000-8000-00000000000b" // p2p_spending
)

// primaryKeys of the tables the tests change.
var primaryKeys = map[string]string{
	"tenant": "tenant_id", "settings": "tenant_id", "tier": "tier_id", "member": "member_id",
	"member_code": "code_id", "transaction": "transaction_id", "wallet": "wallet_id",
	"unit_transfer": "transfer_id", "reward": "reward_id", "issued_reward": "issued_reward_id",
	"campaign": "campaign_id", "campaign_effect_result": "effect_result_id",
}

// val turns a Go value into a column value: string, int, bool and nil as themselves.
func val(x any) cdc.Value {
	switch x := x.(type) {
	case nil:
		return cdc.Value{}
	case cdc.Value:
		return x
	case string:
		return cdc.StringValue(x)
	case int:
		return cdc.IntValue(int64(x))
	case bool:
		return cdc.BoolValue(x)
	}
	panic(fmt.Sprintf("val: %T", x))
}

func dec(s string) cdc.Value { return cdc.DecimalValue(s) }
func js(s string) cdc.Value  { return cdc.JSONValue(s) }

var unavailable = cdc.UnavailableValue()

func ts(s string) cdc.Value {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return cdc.TimeValue(t)
}

func day(s string) cdc.Value {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return cdc.DateValue(t.Unix() / 86400)
}

// row builds a row from name, value pairs.
func row(kv ...any) *cdc.Row {
	r := &cdc.Row{}
	for i := 0; i < len(kv); i += 2 {
		r.Columns = append(r.Columns, cdc.Column{Name: kv[i].(string), Value: val(kv[i+1])})
	}
	return r
}

// with returns a copy of r with the given columns replaced or added.
func with(r *cdc.Row, kv ...any) *cdc.Row {
	c := &cdc.Row{Columns: append([]cdc.Column(nil), r.Columns...)}
	for i := 0; i < len(kv); i += 2 {
		c.Set(kv[i].(string), val(kv[i+1]))
	}
	return c
}

// change builds a change of a table as Debezium would deliver it at LSN lsn.
func change(table string, op cdc.Op, before, after *cdc.Row, lsn int64) *cdc.Change {
	img := after
	if img == nil {
		img = before
	}
	pk := primaryKeys[table]
	return &cdc.Change{
		Table:  table,
		Op:     op,
		Key:    row(pk, img.Get(pk)),
		Before: before,
		After:  after,
		Source: cdc.Source{
			TsMs: 1767261600000 + lsn, Snapshot: "false", DB: "loyalty", Schema: "public", Table: table,
			TxID: 7001, LSN: lsn, Topic: "loyalty.public." + table, Partition: 2, Offset: lsn - 1000,
		},
		TsMs: 1767261600500 + lsn,
	}
}

func insert(table string, after *cdc.Row, lsn int64) *cdc.Change {
	return change(table, cdc.OpCreate, nil, after, lsn)
}

func update(table string, before, after *cdc.Row, lsn int64) *cdc.Change {
	return change(table, cdc.OpUpdate, before, after, lsn)
}

// Rows of the fixture world.
var (
	tenantRow = row("tenant_id", tenant1, "code", "DEFAULT", "name", "Default store")
	memberRow = row(
		"member_id", member1, "tenant_id", tenant1, "active", true,
		"first_name", "Anna", "last_name", "Nowak", "gender", "female",
		"email", "anna@example.com", "phone", "+48123456789", "birth_date", day("1990-05-17"),
		"loyalty_card_number", "CARD-0001", "registered_at", ts("2026-01-01T09:30:00.123456Z"),
		"address", js(`{"street":"Długa \"5\"","address1":"5","address2":null,"postal":"00-001","city":"Warszawa","province":"mazowieckie","country":"PL"}`),
		"company", js(`{"name":"Nowak Sp. z o.o.","nip":"5250001009"}`),
		"agreement1", true, "agreement2", false, "agreement3", nil,
		"custom_attributes", js(`[{"key":"favourite","value":"espresso"},{"key":"kids","value":2},{"key":"pet"}]`),
		"referral_token", "ref-anna", "level_id", tierSilv, "manually_assigned_level_id", nil,
		"next_recalculation_at", nil, "projected_level_id", nil,
		"created_at", ts("2026-01-01T09:30:00Z"), "updated_at", ts("2026-01-01T09:30:00Z"),
	)
	member2Row = row("member_id", member2, "tenant_id", tenant1, "active", true,
		"email", "bob@example.com", "phone", nil, "loyalty_card_number", "CARD-0002")
	walletRow = row(
		"wallet_id", wallet1, "tenant_id", tenant1, "member_id", member1, "wallet_type_code", "default",
		"active_units", dec("100.50"), "pending_units", dec("0"), "blocked_units", dec("0"),
		"expired_units", dec("0"), "spent_units", dec("0"), "earned_units", dec("100.50"),
		"last_transfer_id", transfer1, "updated_at", ts("2026-01-01T10:00:00Z"),
	)
	issuedRewardRow = row(
		"issued_reward_id", "7a000000-0000-4000-8000-000000000001", "tenant_id", tenant1,
		"reward_id", reward1, "member_id", member1, "name", "Free coffee (issued)",
		"reward_type", "static_coupon", "status", "issued", "status_comment", nil,
		"status_changed_at", ts("2026-01-02T08:00:00Z"), "cost_in_points", dec("150.00"),
		"token", "TOK-1", "redemption_date", ts("2026-01-02T08:00:00Z"),
		"price", dec("9.99"), "tax", dec("23"), "tax_price_value", dec("1.87"),
		"coupon_code", "COFFEE-123", "coupon_value", dec("12.5"), "coupon_value_type", "money",
		"coupon_active_from", ts("2026-01-02T00:00:00Z"), "coupon_active_to", ts("2026-02-02T00:00:00Z"),
		"coupon_used_at", nil,
		"action_cause", js(`{"campaignId":null,"customerId":"`+member1+`","transactionId":null,"customEventId":null,"internalEventName":"reward_bought"}`),
		"created_at", ts("2026-01-02T08:00:00Z"), "updated_at", ts("2026-01-02T08:00:00Z"),
	)
	effectRow = row(
		"effect_result_id", "8a000000-0000-4000-8000-000000000001", "tenant_id", tenant1,
		"campaign_execution_id", "8b000000-0000-4000-8000-000000000001", "campaign_id", campaign1,
		"member_id", member1, "status", "success", "type", "give_points", "points", dec("25.5"),
		"coupon_value", nil, "reward_id", nil, "wallet_type_code", "default", "redemption_code", nil,
		"trigger", js(`{"type":"transaction","triggerId":"9a000000-0000-4000-8000-000000000001","createdAt":"2026-01-03T12:00:00+01:00","purchasedAt":"2026-01-03T11:59:00+01:00","documentNumber":"INV/2026/1"}`),
		"created_at", ts("2026-01-03T11:00:00Z"),
	)
	transactionRow = row(
		"transaction_id", "9a000000-0000-4000-8000-000000000001", "tenant_id", tenant1, "member_id", nil,
		"document_number", "INV/2026/1", "document_type", "sell", "purchased_at", ts("2026-01-03T10:59:00Z"),
		"gross_value", dec("30.30"), "channel_id", "web",
		"customer_data", js(`{"email":"anna@example.com","name":"Anna Nowak","nip":null,"phone":"+48123456789","loyaltyCardNumber":"CARD-0001","address":{"street":"Długa","postal":"00-001","city":"Warszawa","country":"PL"}}`),
		"items", js(`[{"sku":{"code":"SKU-1"},"name":"Espresso","quantity":2,"grossValue":10.10,"category":"coffee","maker":"Lavazza","labels":[{"key":"size","value":"small"}]},{"sku":{"code":"SKU-2"},"name":"Beans 1 kg","quantity":0.5,"grossValue":"10.10","labels":[]}]`),
		"created_at", ts("2026-01-03T11:00:00Z"), "updated_at", ts("2026-01-03T11:00:00Z"),
	)
)

// world returns a view holding the fixture world's lookup rows.
func world() *lookup.View {
	v := lookup.NewView()
	load := func(table string, r *cdc.Row) {
		v.Load(lookup.Ref{Table: table, Key: r.Get(primaryKeys[table]).Text()}, r)
	}
	load("tenant", tenantRow)
	load("settings", row("tenant_id", tenant1, "expire_points_notification_days", 7))
	load("tier", row("tier_id", tierBronz, "name", "Bronze", "rank", 1))
	load("tier", row("tier_id", tierSilv, "name", "Silver", "rank", 2))
	load("tier", row("tier_id", tierGold, "name", "Gold", "rank", 3))
	load("tier", row("tier_id", tierSilv2, "name", "Silver Plus", "rank", 2))
	load("member", memberRow)
	load("member", member2Row)
	load("reward", row("reward_id", reward1, "name", "Free coffee", "type", "static_coupon"))
	load("campaign", row("campaign_id", campaign1, "name", "Double points", "trigger_type", "transaction"))
	load("wallet", walletRow)
	load("unit_transfer", row("transfer_id", transfer1, "wallet_id", wallet1, "member_id", member1,
		"type", "spending", "units", dec("10.25"),
		"action_cause", js(`{"campaignId":"`+campaign1+`","customerId":"`+member1+`","transactionId":"9a000000-0000-4000-8000-000000000001","customEventId":null,"internalEventName":null,"performedAt":"2026-01-03T10:59:00Z"}`)))
	load("unit_transfer", row("transfer_id", transferA, "wallet_id", wallet2, "member_id", member2,
		"type", "p2p_adding", "units", dec("10"), "action_cause", nil))
	load("unit_transfer", row("transfer_id", transferS, "wallet_id", wallet1, "member_id", member1,
		"type", "p2p_spending", "units", dec("10"), "action_cause", nil))
	v.Misses() // loading counts nothing, but start clean
	return v
}
