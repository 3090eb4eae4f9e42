package lookup

import "github.com/loyaltyhooks/loyaltyhooks/cdc"

// Ref names one lookup row: a logical table and a primary-key text.
type Ref struct {
	Table string
	Key   string
}

// View is the lookup state one batch sees: rows fetched from the store before the batch,
// overlaid with the rows the batch itself has written so far, so a change sees every change
// before it. A View is not safe for concurrent use.
type View struct {
	rows   map[Ref]*cdc.Row // nil value: known to be absent (deleted or not found)
	dirty  map[Ref]*cdc.Row // rows written by this batch, to be stored; nil value: delete
	misses map[string]int   // per logical table
}

// NewView returns an empty view.
func NewView() *View {
	return &View{rows: map[Ref]*cdc.Row{}, dirty: map[Ref]*cdc.Row{}, misses: map[string]int{}}
}

// Row returns the latest row of a logical table by primary-key text, or nil when it is not
// known; every nil answer for a non-empty key counts as a miss of that table.
func (v *View) Row(table, key string) *cdc.Row {
	if key == "" {
		return nil
	}
	r := v.rows[Ref{table, key}]
	if r == nil {
		v.misses[table]++
	}
	return r
}

// Has reports whether the view holds a row of a logical table by primary-key text. Unlike Row
// it counts no miss: it asks whether a change can be built yet, and builds nothing.
func (v *View) Has(table, key string) bool { return key != "" && v.rows[Ref{table, key}] != nil }

// Load records a row fetched from the store (nil: not found). It does not mark it dirty.
func (v *View) Load(ref Ref, row *cdc.Row) { v.rows[ref] = row }

// Loaded reports whether the view already has an answer for ref, found or not.
func (v *View) Loaded(ref Ref) bool {
	_, ok := v.rows[ref]
	return ok
}

// Put records the latest row of a lookup table as written by the batch; nil deletes it.
func (v *View) Put(ref Ref, row *cdc.Row) {
	v.rows[ref] = row
	v.dirty[ref] = row
}

// Dirty returns the rows the batch wrote (nil: deleted), for the store to persist.
func (v *View) Dirty() map[Ref]*cdc.Row { return v.dirty }

// Misses returns the number of lookups per table that found nothing, and resets the counts.
func (v *View) Misses() map[string]int {
	m := v.misses
	v.misses = map[string]int{}
	return m
}

// Reset empties the view for reuse by the next batch.
func (v *View) Reset() {
	clear(v.rows)
	clear(v.dirty)
	clear(v.misses)
}
