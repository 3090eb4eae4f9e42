package rules

import (
	"testing"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
)

// BenchmarkApply measures classification and data building per change over a mix of the
// changes a loyalty database writes most: wallet balances, profile edits, transactions, codes.
func BenchmarkApply(b *testing.B) {
	mix := []*cdc.Change{
		update("wallet", walletRow, with(walletRow, "active_units", dec("90.25")), 1),
		update("member", memberRow, with(memberRow, "email", "x@example.com"), 2),
		update("member", memberRow, with(memberRow, "updated_at", ts("2026-02-01T00:00:00Z")), 3),
		insert("member_code", memberCodeRow("password_reset"), 4),
		insert("transaction", transactionRow, 5),
		update("issued_reward", issuedRewardRow, with(issuedRewardRow, "status", "shipped"), 6),
		insert("campaign_effect_result", effectRow, 7),
		change("member", cdc.OpRead, nil, memberRow, 8),
	}
	for _, bc := range []struct {
		name    string
		changes []*cdc.Change
	}{
		{"mix", mix},
		{"wallet", mix[:1]},
		{"member_update", mix[1:2]},
		{"no_event", mix[2:3]},
		{"member_code", mix[3:4]},
		{"transaction", mix[4:5]},
	} {
		b.Run(bc.name, func(b *testing.B) {
			view := world()
			var dst []Event
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				ch := bc.changes[i%len(bc.changes)]
				var err error
				if dst, err = Apply(ch, view, dst[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
