package rules

import (
	"fmt"
	"slices"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/processor/lookup"
)

// Triggers is a set of the row-driven triggers of one table: bit i stands for the table's i-th
// rule in the rule table. A set means nothing without its table; outside this process it
// travels as trigger names (TriggerNames, TriggerSet).
type Triggers uint32

// AllTriggers is every trigger of any table.
const AllTriggers = ^Triggers(0)

// The rule table may not give one table more triggers than a set holds.
func init() {
	for t, rs := range byTable {
		if len(rs) > 32 {
			panic(fmt.Sprintf("rules: table %s has %d triggers; a Triggers set holds 32", t, len(rs)))
		}
	}
}

// Firing returns the triggers of only whose operation and condition the change meets: those
// whose events Apply would build. It reads no lookup.
func Firing(ch *cdc.Change, only Triggers) Triggers {
	op, before := images(ch)
	if op == 0 {
		return 0
	}
	var fire Triggers
	for i, ru := range byTable[ch.Table] {
		if only&(1<<i) != 0 && ru.ops&op != 0 && ru.when(before, ch.After) {
			fire |= 1 << i
		}
	}
	return fire
}

// Lacking returns the triggers of fire whose required lookup rows the view does not hold, and
// appends each such row to missing, once. It counts no miss: nothing is built. The rows it asks
// about are among those References lists, so a view fetched for them answers.
func Lacking(ch *cdc.Change, view *lookup.View, fire Triggers, missing []lookup.Ref) (Triggers, []lookup.Ref) {
	var lacking Triggers
	r := input{ch: ch}
	for i, ru := range byTable[ch.Table] {
		if fire&(1<<i) == 0 {
			continue
		}
		for _, n := range ru.needs {
			v := r.get(n.column)
			if n.before {
				v = ch.Before.Get(n.column)
			}
			if !v.Known() || view.Has(n.lookup, v.Text()) {
				continue
			}
			lacking |= 1 << i
			if ref := (lookup.Ref{Table: n.lookup, Key: v.Text()}); !slices.Contains(missing, ref) {
				missing = append(missing, ref)
			}
		}
	}
	return lacking, missing
}

// MessageIDs appends the message ids of the events the triggers of the set give the change, in
// rule table order, without building them.
func MessageIDs(ch *cdc.Change, set Triggers, dst []string) []string {
	key := ch.KeyText()
	for i, ru := range byTable[ch.Table] {
		if set&(1<<i) != 0 {
			dst = append(dst, changeMessageID(ru.trigger, ch, key))
		}
	}
	return dst
}

// TriggerNames returns the names of the triggers of a table's set, in rule table order.
func TriggerNames(table string, set Triggers) []string {
	var names []string
	for i, ru := range byTable[table] {
		if set&(1<<i) != 0 {
			names = append(names, ru.trigger)
		}
	}
	return names
}

// TriggerSet returns the set of a table's triggers by name; a name that is no trigger of the
// table is an error (a record written by another version).
func TriggerSet(table string, names []string) (Triggers, error) {
	var set Triggers
	for _, name := range names {
		i := slices.IndexFunc(byTable[table], func(ru *rule) bool { return ru.trigger == name })
		if i < 0 {
			return 0, fmt.Errorf("%s is no trigger of table %s", name, table)
		}
		set |= 1 << i
	}
	return set, nil
}

// Needs returns the lookup tables whose rows the triggers of table require, other than table
// itself, in sorted order: the tables whose changes should be read before table's.
func Needs(table string) []string {
	var out []string
	for _, ru := range byTable[table] {
		for _, n := range ru.needs {
			if n.lookup != table && !slices.Contains(out, n.lookup) {
				out = append(out, n.lookup)
			}
		}
	}
	slices.Sort(out)
	return out
}
