package cdc_test

import (
	"strings"
	"testing"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
)

func TestReferenceFollowsTheContract(t *testing.T) {
	if len(cdc.Reference) != len(config.LogicalTables) {
		t.Fatalf("%d reference tables, config lists %d", len(cdc.Reference), len(config.LogicalTables))
	}
	// Column counts of CONTRACT §1 (key and tenant_id included).
	counts := map[string]int{
		"tenant": 4, "settings": 5, "tier": 5, "member": 24, "member_code": 8, "transaction": 12, "wallet": 12,
		"unit_transfer": 16, "reward": 4, "issued_reward": 24, "campaign": 4, "campaign_effect_result": 14,
		"webhook_subscription": 11,
	}
	for i, def := range cdc.Reference {
		if def.Name != config.LogicalTables[i] {
			t.Errorf("table %d is %s, config lists %s", i, def.Name, config.LogicalTables[i])
		}
		if got, ok := cdc.ReferenceTable(def.Name); !ok || got != &cdc.Reference[i] {
			t.Errorf("ReferenceTable(%s) does not find it", def.Name)
		}
		if len(def.Columns) != counts[def.Name] {
			t.Errorf("%s has %d columns, CONTRACT lists %d", def.Name, len(def.Columns), counts[def.Name])
		}
		if len(def.Key) != 1 || def.Columns[0].Name != def.Key[0] || def.Columns[0].Type != cdc.TypeUUID {
			t.Errorf("%s: key %v is not its first column, a uuid", def.Name, def.Key)
		}
		if c, ok := def.Column("tenant_id"); !ok || c.Type != cdc.TypeUUID {
			t.Errorf("%s has no tenant_id uuid", def.Name)
		}
		seen := map[string]bool{}
		for _, c := range def.Columns {
			if seen[c.Name] {
				t.Errorf("%s.%s twice", def.Name, c.Name)
			}
			seen[c.Name] = true
			if c.Type.Kind() == cdc.Null {
				t.Errorf("%s.%s has no type", def.Name, c.Name)
			}
			// The contract's conventions: ids are uuids, *_at are instants.
			if strings.HasSuffix(c.Name, "_id") && c.Type != cdc.TypeUUID {
				t.Errorf("%s.%s is %s, want uuid", def.Name, c.Name, c.Type)
			}
			if strings.HasSuffix(c.Name, "_at") && c.Type != cdc.TypeTimestamptz {
				t.Errorf("%s.%s is %s, want timestamptz", def.Name, c.Name, c.Type)
			}
		}
	}
	if _, ok := cdc.ReferenceTable("orders"); ok {
		t.Error("ReferenceTable finds a table that does not exist")
	}
}

func TestReferenceTypesTheContractNames(t *testing.T) {
	for col, want := range map[string]cdc.ColumnType{
		"tenant.code": cdc.TypeText, "settings.expire_points_notification_days": cdc.TypeInt,
		"settings.expire_levels_notification_days": cdc.TypeInt, "tier.tier_set_id": cdc.TypeUUID, "tier.rank": cdc.TypeInt,
		"member.active": cdc.TypeBool, "member.birth_date": cdc.TypeDate, "member.address": cdc.TypeJSONB,
		"member.company": cdc.TypeJSONB, "member.agreement3": cdc.TypeBool, "member.custom_attributes": cdc.TypeJSONB,
		"member.projected_level_id": cdc.TypeUUID, "member_code.purpose": cdc.TypeText, "member_code.code_number": cdc.TypeText,
		"transaction.member_id": cdc.TypeUUID, "transaction.gross_value": cdc.TypeNumeric, "transaction.items": cdc.TypeJSONB,
		"wallet.active_units": cdc.TypeNumeric, "wallet.earned_units": cdc.TypeNumeric, "wallet.last_transfer_id": cdc.TypeUUID,
		"unit_transfer.units": cdc.TypeNumeric, "unit_transfer.remaining_units": cdc.TypeNumeric,
		"unit_transfer.pending": cdc.TypeBool, "unit_transfer.cancelled": cdc.TypeBool, "unit_transfer.action_cause": cdc.TypeJSONB,
		"unit_transfer.expires_at": cdc.TypeTimestamptz, "issued_reward.cost_in_points": cdc.TypeNumeric,
		"issued_reward.tax_price_value": cdc.TypeNumeric, "issued_reward.coupon_value": cdc.TypeNumeric,
		"issued_reward.coupon_active_to": cdc.TypeTimestamptz, "campaign.trigger_type": cdc.TypeText,
		"campaign_effect_result.campaign_execution_id": cdc.TypeUUID, "campaign_effect_result.points": cdc.TypeNumeric,
		"campaign_effect_result.trigger": cdc.TypeJSONB, "webhook_subscription.headers": cdc.TypeJSONB,
		"webhook_subscription.hmac_enabled": cdc.TypeBool, "webhook_subscription.hmac_secret": cdc.TypeText,
	} {
		table, name, _ := strings.Cut(col, ".")
		def, ok := cdc.ReferenceTable(table)
		if !ok {
			t.Fatalf("no table %s", table)
		}
		if c, ok := def.Column(name); !ok || c.Type != want {
			t.Errorf("%s is %q, want %s", col, c.Type, want)
		}
	}
}
