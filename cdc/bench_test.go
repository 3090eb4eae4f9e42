package cdc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/debezium"
)

func compact(b testing.TB, raw []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkDecode decodes a member update (full before and after images, as REPLICA IDENTITY
// FULL gives) in each source format, as Kafka Connect writes it (compact JSON).
func BenchmarkDecode(b *testing.B) {
	ctx := context.Background()
	update := compact(b, fixture(b, "member-u.json"))
	key := []byte(`{"member_id":"` + anneID + `"}`)
	schema := compact(b, fixture(b, "member.schema.json"))
	keySchema := compact(b, fixture(b, "member.key.schema.json"))
	jsonDecoder := newDecoder(b, loyalty(config.FormatJSON))

	run := func(b *testing.B, d *cdc.Decoder, r *kgo.Record) {
		if _, err := d.Decode(ctx, r); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(r.Value)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.Decode(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("json", func(b *testing.B) {
		run(b, jsonDecoder, record("loyalty.public.member", key, update))
	})
	b.Run("json+schema", func(b *testing.B) {
		run(b, jsonDecoder, record("loyalty.public.member", wrap(keySchema, key), wrap(schema, update)))
	})
	b.Run("avro", func(b *testing.B) {
		reg := srfake.New()
		defer reg.Close()
		client, err := sr.NewClient(sr.URLs(reg.URL()))
		if err != nil {
			b.Fatal(err)
		}
		src := loyalty(config.FormatAvro)
		enc, err := debezium.NewEncoder(debezium.Options{Format: debezium.Avro, Source: src, Registry: client})
		if err != nil {
			b.Fatal(err)
		}
		ch, err := jsonDecoder.Decode(ctx, record("loyalty.public.member", key, update))
		if err != nil {
			b.Fatal(err)
		}
		topic, k, v, err := enc.Encode(ctx, ch)
		if err != nil {
			b.Fatal(err)
		}
		d, err := cdc.NewDecoder(src, client)
		if err != nil {
			b.Fatal(err)
		}
		run(b, d, record(topic, k, v))
	})
}
