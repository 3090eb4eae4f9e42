package cdc_test

import (
	"context"
	"testing"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
)

// checkOutcome fails unless a decode ended in a change, a skip or a poison error: a record that
// cannot be read must never panic nor look like a transient failure.
func checkOutcome(t *testing.T, ch *cdc.Change, err error) {
	if err != nil {
		if _, ok := cdc.IsPoison(err); !ok {
			t.Fatalf("non-poison error for a bad record: %v", err)
		}
		if ch != nil {
			t.Fatal("change and error")
		}
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, name := range []string{"member-c.json", "member-u.json", "member-t.json", "message-m.json",
		"wallet-precise.json", "wallet-double.json", "member-times.json", "heartbeat.json"} {
		f.Add("loyalty.public.member", []byte(`{"member_id":"x"}`), fixture(f, name))
	}
	f.Add("loyalty.public.member", []byte(`{"member_id":"x"}`), wrap(fixture(f, "member.schema.json"), fixture(f, "member-u.json")))
	f.Add("loyalty.public.wallet", []byte(nil), wrap(fixture(f, "wallet-fixed.schema.json"), fixture(f, "wallet-fixed.json")))
	d := newDecoder(f, loyalty(config.FormatJSON))
	f.Fuzz(func(t *testing.T, topic string, key, value []byte) {
		ch, err := d.Decode(context.Background(), record(topic, key, value))
		checkOutcome(t, ch, err)
	})
}

func FuzzDecodeAvro(f *testing.F) {
	reg := newAvroRegistry(f)
	headers := [][]byte{
		reg.header(f, "loyalty.public.member-value", "member.avsc"),
		reg.header(f, "loyalty.public.wallet-value", "wallet.avsc"),
		reg.header(f, "loyalty.public.member-key", "member.key.avsc"),
	}
	d := avroDecoder(f, reg)
	f.Add(uint8(0), []byte{0x02, 0x48})
	f.Add(uint8(1), []byte{0x00, 0x02, 0x00, 0x02, 0x04, 0xfb, 0x1e})
	f.Add(uint8(2), []byte{0x48})
	f.Fuzz(func(t *testing.T, schema uint8, body []byte) {
		value := append(append([]byte{}, headers[int(schema)%len(headers)]...), body...)
		ch, err := d.Decode(context.Background(), record("loyalty.public.member", value, value))
		checkOutcome(t, ch, err)
	})
}
