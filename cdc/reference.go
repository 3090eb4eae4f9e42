package cdc

// ColumnType is the SQL type of a reference-schema column. It decides how a value is read when
// the wire format does not say (schemaless JSON) and which Kind the decoder produces.
type ColumnType string

// The SQL types the reference schema uses.
const (
	TypeUUID        ColumnType = "uuid"
	TypeText        ColumnType = "text"
	TypeInt         ColumnType = "int"
	TypeBool        ColumnType = "bool"
	TypeNumeric     ColumnType = "numeric" // unconstrained: Debezium sends VariableScaleDecimal in precise mode
	TypeTimestamptz ColumnType = "timestamptz"
	TypeDate        ColumnType = "date"
	TypeJSONB       ColumnType = "jsonb"
)

// Kind returns the Kind a known value of this type decodes to.
func (t ColumnType) Kind() Kind {
	switch t {
	case TypeUUID, TypeText:
		return String
	case TypeInt:
		return Int
	case TypeBool:
		return Bool
	case TypeNumeric:
		return Decimal
	case TypeTimestamptz:
		return Time
	case TypeDate:
		return Date
	case TypeJSONB:
		return JSON
	}
	return Null
}

// ColumnDef is one column of a reference table.
type ColumnDef struct {
	Name string
	Type ColumnType
}

// TableDef is one table of the reference schema (CONTRACT §1) with logical names.
type TableDef struct {
	Name    string
	Key     []string    // primary-key columns
	Columns []ColumnDef // in table order, key first
}

// Column returns the named column's definition.
func (t *TableDef) Column(name string) (ColumnDef, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return ColumnDef{}, false
}

// Reference is the reference schema of CONTRACT §1, in the order config.LogicalTables lists it.
// The DDL, the demo's simulated database and the decoder's schemaless reading all derive from it.
var Reference = []TableDef{
	tableDef("tenant", "tenant_id", nil,
		textCol("code"), textCol("name"), tsCol("created_at")),
	tableDef("settings", "tenant_id", nil,
		intCol("expire_points_notification_days"), intCol("expire_coupons_notification_days"),
		intCol("expire_levels_notification_days"), tsCol("updated_at")),
	tableDef("tier", "tier_id", tenant,
		uuidCol("tier_set_id"), textCol("name"), intCol("rank")),
	tableDef("member", "member_id", tenant,
		boolCol("active"), textCol("first_name"), textCol("last_name"), textCol("gender"), textCol("email"),
		textCol("phone"), dateCol("birth_date"), textCol("loyalty_card_number"), tsCol("registered_at"),
		jsonbCol("address"), jsonbCol("company"), boolCol("agreement1"), boolCol("agreement2"),
		boolCol("agreement3"), jsonbCol("custom_attributes"), textCol("referral_token"), uuidCol("level_id"),
		uuidCol("manually_assigned_level_id"), tsCol("next_recalculation_at"), uuidCol("projected_level_id"),
		tsCol("created_at"), tsCol("updated_at")),
	tableDef("member_code", "code_id", tenant,
		uuidCol("member_id"), textCol("purpose"), textCol("code"), textCol("code_number"), tsCol("created_at"),
		tsCol("expires_at")),
	tableDef("transaction", "transaction_id", tenant,
		uuidCol("member_id"), textCol("document_number"), textCol("document_type"), tsCol("purchased_at"),
		numericCol("gross_value"), uuidCol("channel_id"), jsonbCol("customer_data"), jsonbCol("items"),
		tsCol("created_at"), tsCol("updated_at")),
	tableDef("wallet", "wallet_id", tenant,
		uuidCol("member_id"), textCol("wallet_type_code"), numericCol("active_units"),
		numericCol("pending_units"), numericCol("blocked_units"), numericCol("expired_units"),
		numericCol("spent_units"), numericCol("earned_units"), uuidCol("last_transfer_id"), tsCol("updated_at")),
	tableDef("unit_transfer", "transfer_id", tenant,
		uuidCol("wallet_id"), uuidCol("member_id"), textCol("type"), numericCol("units"),
		numericCol("remaining_units"), boolCol("pending"), tsCol("locked_until"), tsCol("expires_at"),
		boolCol("cancelled"), uuidCol("related_transfer_id"), textCol("comment"), jsonbCol("action_cause"),
		tsCol("created_at"), tsCol("updated_at")),
	tableDef("reward", "reward_id", tenant,
		textCol("name"), textCol("type")),
	tableDef("issued_reward", "issued_reward_id", tenant,
		uuidCol("reward_id"), uuidCol("member_id"), textCol("name"), textCol("reward_type"), textCol("status"),
		textCol("status_comment"), tsCol("status_changed_at"), numericCol("cost_in_points"), textCol("token"),
		tsCol("redemption_date"), numericCol("price"), numericCol("tax"), numericCol("tax_price_value"),
		textCol("coupon_code"), numericCol("coupon_value"), textCol("coupon_value_type"),
		tsCol("coupon_active_from"), tsCol("coupon_active_to"), tsCol("coupon_used_at"),
		jsonbCol("action_cause"), tsCol("created_at"), tsCol("updated_at")),
	tableDef("campaign", "campaign_id", tenant,
		textCol("name"), textCol("trigger_type")),
	tableDef("campaign_effect_result", "effect_result_id", tenant,
		uuidCol("campaign_execution_id"), uuidCol("campaign_id"), uuidCol("member_id"), textCol("status"),
		textCol("type"), numericCol("points"), numericCol("coupon_value"), uuidCol("reward_id"),
		textCol("wallet_type_code"), textCol("redemption_code"), jsonbCol("trigger"), tsCol("created_at")),
	tableDef("webhook_subscription", "subscription_id", tenant,
		textCol("event_name"), textCol("url"), textCol("destination_type"), jsonbCol("headers"),
		boolCol("hmac_enabled"), textCol("hmac_secret"), boolCol("active"), tsCol("created_at"),
		tsCol("updated_at")),
}

// ReferenceTable returns the reference table with the given logical name.
func ReferenceTable(name string) (*TableDef, bool) {
	for i := range Reference {
		if Reference[i].Name == name {
			return &Reference[i], true
		}
	}
	return nil, false
}

// tenant is the store column every table carries besides its key.
var tenant = []ColumnDef{uuidCol("tenant_id")}

func tableDef(name, key string, extra []ColumnDef, cols ...ColumnDef) TableDef {
	all := make([]ColumnDef, 0, 1+len(extra)+len(cols))
	all = append(all, uuidCol(key))
	all = append(all, extra...)
	all = append(all, cols...)
	return TableDef{Name: name, Key: []string{key}, Columns: all}
}

func uuidCol(n string) ColumnDef    { return ColumnDef{n, TypeUUID} }
func textCol(n string) ColumnDef    { return ColumnDef{n, TypeText} }
func intCol(n string) ColumnDef     { return ColumnDef{n, TypeInt} }
func boolCol(n string) ColumnDef    { return ColumnDef{n, TypeBool} }
func numericCol(n string) ColumnDef { return ColumnDef{n, TypeNumeric} }
func tsCol(n string) ColumnDef      { return ColumnDef{n, TypeTimestamptz} }
func dateCol(n string) ColumnDef    { return ColumnDef{n, TypeDate} }
func jsonbCol(n string) ColumnDef   { return ColumnDef{n, TypeJSONB} }
