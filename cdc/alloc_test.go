package cdc_test

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/config"
)

// TestDecodeAllocations holds decoding to its budget: one allocation for the change, its rows
// and their columns, one for the record's text (the copies of value and key, and the text built
// from them), whether the record embeds its schema or not.
func TestDecodeAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	d := newDecoder(t, loyalty(config.FormatJSON))
	key := []byte(`{"member_id":"` + anneID + `"}`)
	update := fixture(t, "member-u.json")
	for name, r := range map[string]*kgo.Record{
		"json": record("loyalty.public.member", key, update),
		"json+schema": record("loyalty.public.member", wrap(fixture(t, "member.key.schema.json"), key),
			wrap(fixture(t, "member.schema.json"), update)),
	} {
		if _, err := d.Decode(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if allocs := testing.AllocsPerRun(100, func() {
			if _, err := d.Decode(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		}); allocs != 2 {
			t.Errorf("%s: %v allocations per record, want 2", name, allocs)
		}
	}
}
