package rules

import (
	"fmt"
	"slices"
	"testing"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/processor/lookup"
)

// TestNeedsAreFetched checks that every lookup row a rule requires is among the rows References
// lists for its table, so the batch's fetch answers Lacking, and that every rule requires the
// tenant for its store code.
func TestNeedsAreFetched(t *testing.T) {
	for _, ru := range table {
		if !slices.Contains(ru.needs, storeRow) {
			t.Errorf("%s does not require the tenant of its store code", ru.trigger)
		}
		for _, n := range ru.needs {
			fetched := slices.ContainsFunc(foreignKeys[ru.table], func(fk foreignKey) bool {
				return fk.column == n.column && fk.lookup == n.lookup && fk.before == n.before
			})
			if !fetched {
				t.Errorf("%s requires %s by %s (before %v), which References does not list for %s",
					ru.trigger, n.lookup, n.column, n.before, ru.table)
			}
		}
	}
}

// without returns the fixture world less some lookup rows.
func without(refs ...lookup.Ref) *lookup.View {
	w := world()
	for _, r := range refs {
		w.Load(r, nil)
	}
	return w
}

func TestLacking(t *testing.T) {
	memberCode := insert("member_code", memberCodeRow("registration"), 10)
	walletSpend := update("wallet", walletRow, with(walletRow, "active_units", dec("90.25")), 11)
	levelUp := update("member", memberRow, with(memberRow, "level_id", tierGold), 12)
	cases := []struct {
		name    string
		ch      *cdc.Change
		view    *lookup.View
		lacking []string // the triggers that lack a row
		missing []string // the tables of the rows missing
	}{
		{"everything there", memberCode, world(), nil, nil},
		{"member_code before its member", memberCode, without(lookup.Ref{Table: "member", Key: member1}),
			[]string{CustomerWasRegisteredWithoutActivation}, []string{"member"}},
		{"member_code of no member", insert("member_code", with(memberCodeRow("registration"), "member_id", nil), 10),
			without(lookup.Ref{Table: "member", Key: member1}), nil, nil},
		{"tenant late", memberCode, without(lookup.Ref{Table: "tenant", Key: tenant1}),
			[]string{CustomerWasRegisteredWithoutActivation}, []string{"tenant"}},
		{"wallet before its transfer", walletSpend, without(lookup.Ref{Table: "unit_transfer", Key: transfer1}),
			[]string{AvailablePointsAmountChanged}, []string{"unit_transfer"}},
		{"level change, previous tier missing: the profile update goes", levelUp, without(lookup.Ref{Table: "tier", Key: tierSilv}),
			[]string{CustomerLevelChanged}, []string{"tier"}},
		{"level change, both tiers and tenant missing", levelUp,
			without(lookup.Ref{Table: "tier", Key: tierSilv}, lookup.Ref{Table: "tier", Key: tierGold}, lookup.Ref{Table: "tenant", Key: tenant1}),
			[]string{CustomerUpdated, CustomerLevelChanged}, []string{"tenant", "tier", "tier"}},
		{"reward bought before the reward", insert("issued_reward", issuedRewardRow, 13), without(lookup.Ref{Table: "reward", Key: reward1}),
			[]string{CustomerBoughtReward}, []string{"reward"}},
		{"campaign effect before the campaign", insert("campaign_effect_result", effectRow, 14), without(lookup.Ref{Table: "campaign", Key: campaign1}),
			[]string{CampaignEffectWasApplied}, []string{"campaign"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fire := Firing(c.ch, AllTriggers)
			lacking, missing := Lacking(c.ch, c.view, fire, nil)
			if got := TriggerNames(c.ch.Table, lacking); fmt.Sprint(got) != fmt.Sprint(c.lacking) {
				t.Errorf("lacking %v, want %v", got, c.lacking)
			}
			var tables []string
			for _, ref := range missing {
				tables = append(tables, ref.Table)
			}
			slices.Sort(tables)
			if fmt.Sprint(tables) != fmt.Sprint(c.missing) {
				t.Errorf("missing %v, want rows of %v", missing, c.missing)
			}
			if m := c.view.Misses(); len(m) != 0 {
				t.Errorf("Lacking counted misses %v", m)
			}
			// The triggers that do not lack go out alone, the others after.
			ready, err := ApplyTriggers(c.ch, c.view, fire&^lacking, nil)
			if err != nil {
				t.Fatal(err)
			}
			rest, err := ApplyTriggers(c.ch, c.view, lacking, nil)
			if err != nil {
				t.Fatal(err)
			}
			all := apply(t, c.view, c.ch)
			if got := append(names(ready), names(rest)...); !sameSet(got, names(all)) {
				t.Errorf("ready %v and deferred %v are not the events %v", names(ready), names(rest), names(all))
			}
		})
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestTriggerSets(t *testing.T) {
	levelUp := update("member", memberRow, with(memberRow, "level_id", tierGold), 12)
	fire := Firing(levelUp, AllTriggers)
	names := TriggerNames("member", fire)
	if fmt.Sprint(names) != fmt.Sprint([]string{CustomerUpdated, CustomerLevelChanged}) {
		t.Fatalf("fired %v", names)
	}
	set, err := TriggerSet("member", names)
	if err != nil || set != fire {
		t.Fatalf("TriggerSet(%v) = %b, %v; want %b", names, set, err, fire)
	}
	if got := TriggerNames("member", Firing(levelUp, set&(set-1))); fmt.Sprint(got) != fmt.Sprint([]string{CustomerLevelChanged}) {
		t.Errorf("fired %v of the set without %s", got, CustomerUpdated)
	}
	evs := apply(t, world(), levelUp)
	if ids := MessageIDs(levelUp, fire, nil); len(ids) != 2 || ids[0] != evs[0].MessageID || ids[1] != evs[1].MessageID {
		t.Errorf("message ids %v, events %s %s", ids, evs[0].MessageID, evs[1].MessageID)
	}
	if _, err := TriggerSet("member", []string{CustomerBoughtReward}); err == nil {
		t.Error("a trigger of another table accepted")
	}
	if Firing(change("member", cdc.OpRead, nil, memberRow, 1), AllTriggers) != 0 {
		t.Error("a snapshot read fires")
	}
}

func TestNeeds(t *testing.T) {
	for table, want := range map[string][]string{
		"tenant":                 nil,
		"member":                 {"tenant", "tier"},
		"member_code":            {"member", "tenant"},
		"wallet":                 {"member", "tenant", "unit_transfer"},
		"issued_reward":          {"member", "reward", "tenant"},
		"campaign_effect_result": {"campaign", "member", "tenant"},
		"transaction":            {"member", "tenant"},
	} {
		if got := Needs(table); !slices.Equal(got, want) {
			t.Errorf("Needs(%s) = %v, want %v", table, got, want)
		}
	}
}

// TestNeedsHaveNoCycle keeps the tables' needs a hierarchy: the processor reads a backlog
// lookups first by holding a table back while a table it needs lags, which a cycle would stall.
func TestNeedsHaveNoCycle(t *testing.T) {
	const (
		unseen = iota
		visiting
		done
	)
	state := map[string]int{}
	var visit func(table string, path []string)
	visit = func(table string, path []string) {
		switch state[table] {
		case visiting:
			t.Fatalf("tables need each other: %v", append(path, table))
		case done:
			return
		}
		state[table] = visiting
		for _, n := range Needs(table) {
			visit(n, append(path, table))
		}
		state[table] = done
	}
	for _, table := range config.LogicalTables {
		visit(table, nil)
	}
}
