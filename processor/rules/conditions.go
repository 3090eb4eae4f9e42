package rules

import "github.com/loyaltyhooks/loyaltyhooks/cdc"

// Conditions on the before and after images. An unavailable value is not known: it never
// makes a condition true, and a column unavailable on either side is not a difference.

func always(_, _ *cdc.Row) bool { return true }

// is holds when the after image's boolean column is b.
func is(col string, b bool) func(_, after *cdc.Row) bool {
	return func(_, after *cdc.Row) bool {
		v := after.Get(col)
		return v.Kind == cdc.Bool && v.Bool() == b
	}
}

// equals holds when the after image's text column is s.
func equals(col, s string) func(_, after *cdc.Row) bool {
	return func(_, after *cdc.Row) bool {
		v := after.Get(col)
		return v.Kind == cdc.String && v.Str == s
	}
}

// changed reports whether the column is known on both sides and differs.
func changed(before, after *cdc.Row, col string) bool {
	d, _ := changedAt(before, after, col, 0)
	return d
}

// changedAt is changed, looking for the column at position hint first; it returns the position
// after the column's, the hint for the next column.
func changedAt(before, after *cdc.Row, col string, hint int) (bool, int) {
	w, i := column(after, col, hint)
	if i < 0 {
		return false, hint
	}
	v, j := column(before, col, i)
	if j < 0 || v.Kind == cdc.Unavailable || w.Kind == cdc.Unavailable {
		return false, i + 1
	}
	return !same(v, w), i + 1
}

// column finds a column, trying position hint first: the before and after images of a change
// list their columns in the same order, and rules list columns in table order. It returns -1
// for a column the row does not have.
func column(r *cdc.Row, name string, hint int) (cdc.Value, int) {
	if r == nil {
		return cdc.Value{}, -1
	}
	if hint >= 0 && hint < len(r.Columns) && r.Columns[hint].Name == name {
		return r.Columns[hint].Value, hint
	}
	for i := range r.Columns {
		if r.Columns[i].Name == name {
			return r.Columns[i].Value, i
		}
	}
	return cdc.Value{}, -1
}

// differs holds when any of the columns changed.
func differs(cols ...string) func(before, after *cdc.Row) bool {
	return func(before, after *cdc.Row) bool {
		hint := 0
		for _, col := range cols {
			var d bool
			if d, hint = changedAt(before, after, col, hint); d {
				return true
			}
		}
		return false
	}
}

// setAndDiffers holds when the column is set in the after image and, for an update, differs
// from the before image.
func setAndDiffers(col string) func(before, after *cdc.Row) bool {
	return func(before, after *cdc.Row) bool {
		if !after.Get(col).Known() {
			return false
		}
		return before == nil || changed(before, after, col)
	}
}

// turns holds when a boolean column goes from one value to another.
func turns(col string, from, to bool) func(before, after *cdc.Row) bool {
	return func(before, after *cdc.Row) bool {
		v, w := before.Get(col), after.Get(col)
		return v.Kind == cdc.Bool && w.Kind == cdc.Bool && v.Bool() == from && w.Bool() == to
	}
}

// becomes holds when the text column is s after the change but was not before: on an insert
// with s, or an update from a known other value.
func becomes(col, s string) func(before, after *cdc.Row) bool {
	return func(before, after *cdc.Row) bool {
		w := after.Get(col)
		if w.Kind != cdc.String || w.Str != s {
			return false
		}
		return before == nil || changed(before, after, col)
	}
}

// amountChanged holds when a decimal column's number changed; an insert changes it from zero.
// SQL NULL counts as zero.
func amountChanged(col string) func(before, after *cdc.Row) bool {
	return func(before, after *cdc.Row) bool {
		w, i := column(after, col, 0)
		if w.Kind == cdc.Unavailable {
			return false
		}
		v := cdc.Value{}
		if before != nil {
			var j int
			if v, j = column(before, col, i); j < 0 || v.Kind == cdc.Unavailable {
				return false
			}
		}
		return !sameDecimal(amountText(v), amountText(w))
	}
}

// amountText is the decimal text of an amount, NULL being zero.
func amountText(v cdc.Value) string {
	if v.Kind == cdc.Null {
		return "0"
	}
	return v.Text()
}
