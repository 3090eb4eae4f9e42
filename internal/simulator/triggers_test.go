package simulator

import (
	"context"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
)

// world is what a reader of the change stream knows after each change: the latest row per key.
type world struct {
	rows map[string]*cdc.Row // table/key → row
	now  time.Time
}

func (w *world) get(table, key string) *cdc.Row { return w.rows[table+"/"+key] }

func (w *world) tierRank(id cdc.Value) int64 {
	if r := w.get("tier", id.Str); r != nil {
		return r.Get("rank").Int
	}
	return -1
}

// notificationDays is the tenant's setting for a timer kind.
func (w *world) notificationDays(tenant cdc.Value, column string) time.Duration {
	return time.Duration(w.get("settings", tenant.Str).Get(column).Int) * 24 * time.Hour
}

var profileColumns = []string{
	"first_name", "last_name", "gender", "email", "phone", "birth_date", "loyalty_card_number",
	"registered_at", "address", "company", "agreement1", "agreement2", "agreement3",
	"custom_attributes", "level_id",
}

func differs(ch *cdc.Change, col string) bool { return !ch.Before.Get(col).Equal(ch.After.Get(col)) }

func is(ch *cdc.Change, table string, op cdc.Op) bool { return ch.Table == table && ch.Op == op }

func codeInserted(purpose string) func(*world, *cdc.Change) bool {
	return func(_ *world, ch *cdc.Change) bool {
		return is(ch, "member_code", cdc.OpCreate) && ch.After.Get("purpose").Str == purpose
	}
}

func memberUpdate(cond func(*world, *cdc.Change) bool) func(*world, *cdc.Change) bool {
	return func(w *world, ch *cdc.Change) bool { return is(ch, "member", cdc.OpUpdate) && cond(w, ch) }
}

func levelMove(up bool) func(*world, *cdc.Change) bool {
	return memberUpdate(func(w *world, ch *cdc.Change) bool {
		if !differs(ch, "level_id") || !ch.After.Get("level_id").Known() {
			return false
		}
		before, after := w.tierRank(ch.Before.Get("level_id")), w.tierRank(ch.After.Get("level_id"))
		return up && after > before || !up && after < before
	})
}

func walletMove(sign int) func(*world, *cdc.Change) bool {
	return func(_ *world, ch *cdc.Change) bool {
		if !is(ch, "wallet", cdc.OpUpdate) {
			return false
		}
		b, _ := hundredths(ch.Before.Get("active_units").Str)
		a, _ := hundredths(ch.After.Get("active_units").Str)
		return sign > 0 && a > b || sign < 0 && a < b || sign == 0 && a == b
	}
}

// rowConditions are the row-driven triggers of CONTRACT §2 (and a few variants of them), each
// as its condition on one change, plus changes that must fire nothing, so the rules are tested
// on both sides.
var rowConditions = map[string]func(*world, *cdc.Change) bool{
	"CustomerRegistered": func(_ *world, ch *cdc.Change) bool {
		return is(ch, "member", cdc.OpCreate) && ch.After.Get("active").Bool()
	},
	"member insert inactive": func(_ *world, ch *cdc.Change) bool {
		return is(ch, "member", cdc.OpCreate) && !ch.After.Get("active").Bool()
	},
	"CustomerWasRegisteredWithoutActivation": codeInserted(purposeRegistration),
	"CustomerRequestedSendActivationCode":    codeInserted(purposeActivationResend),
	"CustomerRequestedPasswordReset":         codeInserted(purposePasswordReset),
	"CustomerEmailWasChanged":                codeInserted(purposeEmailChange),
	"CustomerPhoneNumberWasChanged":          codeInserted(purposePhoneChange),
	"CustomerUpdated": memberUpdate(func(_ *world, ch *cdc.Change) bool {
		return slices.ContainsFunc(profileColumns, func(c string) bool { return differs(ch, c) })
	}),
	"member update of no profile column": memberUpdate(func(_ *world, ch *cdc.Change) bool {
		return !slices.ContainsFunc(profileColumns, func(c string) bool { return differs(ch, c) })
	}),
	"CustomerLevelChanged on insert": func(_ *world, ch *cdc.Change) bool {
		return is(ch, "member", cdc.OpCreate) && ch.After.Get("level_id").Known()
	},
	"CustomerLevelChanged up":   levelMove(true),
	"CustomerLevelChanged down": levelMove(false),
	"CustomerDeactivated": memberUpdate(func(_ *world, ch *cdc.Change) bool {
		return ch.Before.Get("active").Bool() && !ch.After.Get("active").Bool()
	}),
	"member activated": memberUpdate(func(_ *world, ch *cdc.Change) bool {
		return !ch.Before.Get("active").Bool() && ch.After.Get("active").Bool()
	}),
	"TransactionRegistered": func(_ *world, ch *cdc.Change) bool { return is(ch, "transaction", cdc.OpCreate) },
	"TransactionRegistered without member": func(_ *world, ch *cdc.Change) bool {
		return is(ch, "transaction", cdc.OpCreate) && ch.After.Get("member_id").IsNull()
	},
	"TransactionAssignedToCustomer": func(_ *world, ch *cdc.Change) bool {
		return is(ch, "transaction", cdc.OpUpdate) && differs(ch, "member_id") && ch.After.Get("member_id").Known()
	},
	"AvailablePointsAmountChanged add":          walletMove(1),
	"AvailablePointsAmountChanged subtract":     walletMove(-1),
	"wallet update with active_units unchanged": walletMove(0),
	"AvailablePointsAmountChanged p2p_add":      p2pWallet(transferP2PAdding),
	"AvailablePointsAmountChanged p2p_subtract": p2pWallet(transferP2PSpending),
	"RewardRedemptionStatusChanged": func(_ *world, ch *cdc.Change) bool {
		return is(ch, "issued_reward", cdc.OpUpdate) && differs(ch, "status")
	},
	"CustomerBoughtReward with coupon": func(_ *world, ch *cdc.Change) bool {
		return is(ch, "issued_reward", cdc.OpCreate) && ch.After.Get("coupon_code").Known()
	},
	"CustomerBoughtReward without coupon": func(_ *world, ch *cdc.Change) bool {
		return is(ch, "issued_reward", cdc.OpCreate) && ch.After.Get("coupon_code").IsNull()
	},
	"CampaignEffectWasApplied on insert": func(_ *world, ch *cdc.Change) bool {
		return is(ch, "campaign_effect_result", cdc.OpCreate) && ch.After.Get("status").Str == effectSuccess
	},
	"CampaignEffectWasApplied on update": func(_ *world, ch *cdc.Change) bool {
		return is(ch, "campaign_effect_result", cdc.OpUpdate) && ch.Before.Get("status").Str != effectSuccess &&
			ch.After.Get("status").Str == effectSuccess
	},
	"campaign effect failed": func(_ *world, ch *cdc.Change) bool {
		return is(ch, "campaign_effect_result", cdc.OpCreate) && ch.After.Get("status").Str == effectFailed
	},
	"campaign effect skipped": func(_ *world, ch *cdc.Change) bool {
		return is(ch, "campaign_effect_result", cdc.OpCreate) && ch.After.Get("status").Str == effectSkipped
	},
	"member_code delete": func(_ *world, ch *cdc.Change) bool { return is(ch, "member_code", cdc.OpDelete) },
	"settings update":    func(_ *world, ch *cdc.Change) bool { return is(ch, "settings", cdc.OpUpdate) },
}

// p2pWallet matches a wallet update moved by a P2P transfer of the given type.
func p2pWallet(typ string) func(*world, *cdc.Change) bool {
	return func(w *world, ch *cdc.Change) bool {
		if !is(ch, "wallet", cdc.OpUpdate) || !differs(ch, "active_units") {
			return false
		}
		t := w.get("unit_transfer", ch.After.Get("last_transfer_id").Str)
		return t != nil && t.Get("type").Str == typ
	}
}

// timerConditions are the rows the expiry triggers schedule from, due within minutes or
// already due: the reminder falls within the notification window and the expiry is ahead.
var timerConditions = map[string]func(*world, *cdc.Row, string) bool{
	"PointsWillExpire": func(w *world, r *cdc.Row, table string) bool {
		if table != "unit_transfer" || r.Get("pending").Bool() || r.Get("cancelled").Bool() || !r.Get("expires_at").Known() {
			return false
		}
		if typ := r.Get("type").Str; typ != transferAdding && typ != transferP2PAdding {
			return false
		}
		if n, _ := hundredths(r.Get("remaining_units").Str); n <= 0 {
			return false
		}
		return dueSoon(w, r.Get("expires_at").Time(), w.notificationDays(r.Get("tenant_id"), "expire_points_notification_days"))
	},
	"CouponWillExpire": func(w *world, r *cdc.Row, table string) bool {
		if table != "issued_reward" || !r.Get("coupon_active_to").Known() || r.Get("coupon_used_at").Known() {
			return false
		}
		if slices.Contains([]string{statusCanceled, statusRejected, statusReturned}, r.Get("status").Str) {
			return false
		}
		return dueSoon(w, r.Get("coupon_active_to").Time(), w.notificationDays(r.Get("tenant_id"), "expire_coupons_notification_days"))
	},
	"LevelWillExpire": func(w *world, r *cdc.Row, table string) bool {
		if table != "member" || !r.Get("next_recalculation_at").Known() || !r.Get("projected_level_id").Known() {
			return false
		}
		if w.tierRank(r.Get("projected_level_id")) >= w.tierRank(r.Get("level_id")) {
			return false
		}
		return dueSoon(w, r.Get("next_recalculation_at").Time(), w.notificationDays(r.Get("tenant_id"), "expire_levels_notification_days"))
	},
}

// dueSoon: the expiry is ahead and its reminder is due within the next hour or already.
func dueSoon(w *world, expiry time.Time, lead time.Duration) bool {
	return expiry.After(w.now) && expiry.Add(-lead).Before(w.now.Add(time.Hour))
}

// TestTriggerConditionsAreExercised runs the simulator for several seeds and checks that within
// a bounded number of steps every row-driven trigger's condition holds for some change and every
// expiry trigger has a row due soon.
func TestTriggerConditionsAreExercised(t *testing.T) {
	const maxSteps = 3000
	for _, seed := range []int64{1, 2, 3, 4} {
		clock := fakeClock()
		s := New(Options{Seed: seed, Tenants: 2, Clock: clock})
		w := &world{rows: map[string]*cdc.Row{}}
		met := map[string]bool{}
		observe := func(_ context.Context, ch *cdc.Change) error {
			w.now = time.UnixMilli(ch.Source.TsMs).UTC()
			for name, cond := range rowConditions {
				if !met[name] && ch.Op != cdc.OpRead && cond(w, ch) {
					met[name] = true
				}
			}
			key := ch.Table + "/" + ch.KeyText()
			if ch.Op == cdc.OpDelete {
				delete(w.rows, key)
			} else {
				w.rows[key] = ch.After
			}
			return nil
		}
		checkTimers := func() {
			for key, r := range w.rows {
				table := key[:len(key)-37] // table/uuid
				for name, cond := range timerConditions {
					if !met[name] && cond(w, r, table) {
						met[name] = true
					}
				}
			}
		}
		ctx := context.Background()
		if err := s.Snapshot(ctx, observe); err != nil {
			t.Fatal(err)
		}
		checkTimers()
		steps := 0
		for ; steps < maxSteps && len(met) < len(rowConditions)+len(timerConditions); steps++ {
			if err := s.Step(ctx, observe); err != nil {
				t.Fatal(err)
			}
			if steps%50 == 0 {
				checkTimers()
			}
		}
		var missing []string
		for name := range rowConditions {
			if !met[name] {
				missing = append(missing, name)
			}
		}
		for name := range timerConditions {
			if !met[name] {
				missing = append(missing, name)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("seed %d: not exercised within %d steps: %v", seed, maxSteps, missing)
		} else {
			t.Logf("seed %d: every condition within %d steps", seed, steps)
		}
	}
}
