package cdc

import (
	"strings"
	"testing"
)

// TestArenaNeverMovesText checks that text cut from an arena stays as it was however the arena
// goes on: after the room keep made is used up, and when a new buffer takes over.
func TestArenaNeverMovesText(t *testing.T) {
	a := &arena{}
	value := a.keep([]byte(`{"value":1}`), 8)
	if cap(a.buf) != len(value)+8 {
		t.Fatalf("keep made a buffer of %d bytes, want the copy and 8", cap(a.buf))
	}
	var texts []string
	for i := range 40 { // far beyond the room: new buffers take over
		a.grow(7)
		m := a.mark()
		a.buf = append(a.buf, strings.Repeat(string(rune('a'+i%26)), 7)...)
		texts = append(texts, a.since(m))
	}
	key := a.keep([]byte(`{"key":2}`), 0)
	for range 40 {
		a.grow(3)
		a.buf = append(a.buf, "xyz"...) // writes after the text cut so far never reach it
	}
	if value != `{"value":1}` || key != `{"key":2}` {
		t.Errorf("copies became %q and %q", value, key)
	}
	for i, s := range texts {
		if want := strings.Repeat(string(rune('a'+i%26)), 7); s != want {
			t.Errorf("text %d became %q, want %q", i, s, want)
		}
	}
}

func TestNewBlockSlabs(t *testing.T) {
	for _, n := range []int{0, 1, 16, 17, 32, 33, 48, 49, 64, 65, 200} {
		b := newBlock(n)
		if len(b.cols) != n {
			t.Errorf("newBlock(%d) has a slab of %d columns", n, len(b.cols))
		}
		row := b.columns(n)
		if len(row) != 0 || cap(row) != n {
			t.Errorf("newBlock(%d).columns(%d) = len %d cap %d", n, n, len(row), cap(row))
		}
	}
}
