package cdc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/debezium"
)

// The encoder the tests and the demo use must write the schemas of the documented events.
func TestEncoderEmbedsTheDocumentedSchemas(t *testing.T) {
	enc, err := debezium.NewEncoder(debezium.Options{Format: debezium.JSONWithSchema, Source: loyalty(config.FormatJSON)})
	if err != nil {
		t.Fatal(err)
	}
	msg := &cdc.Change{Op: cdc.OpMessage, Message: &cdc.Message{Prefix: "foo"}}
	for _, tc := range []struct {
		ch               *cdc.Change
		value, keySchema string
	}{
		{documented()[0].want, "member.schema.json", "member.key.schema.json"},
		{msg, "message.schema.json", "message.key.schema.json"},
	} {
		_, key, value, err := enc.Encode(context.Background(), tc.ch)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			record []byte
			file   string
		}{{value, tc.value}, {key, tc.keySchema}} {
			var wrapper struct{ Schema json.RawMessage }
			if err := json.Unmarshal(c.record, &wrapper); err != nil {
				t.Fatal(err)
			}
			if want := compact(t, fixture(t, c.file)); !bytes.Equal(wrapper.Schema, want) {
				t.Errorf("embedded schema differs from %s\n got: %s\nwant: %s", c.file, wrapper.Schema, want)
			}
		}
	}
}
