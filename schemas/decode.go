package schemas

import (
	"fmt"
	"strings"
	"time"
)

// decode reads the Avro binary of one WebhookEvent written with this schema.
func (cp *compiled) decode(body []byte) (*Event, error) {
	native, rest, err := cp.avro.NativeFromBinary(body)
	if err != nil {
		return nil, fmt.Errorf("decode webhook event: %w", err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("decode webhook event: %d bytes after the record", len(rest))
	}
	v, err := cp.root.plain(native)
	if err != nil {
		return nil, fmt.Errorf("decode webhook event: %w", err)
	}
	m := v.(map[string]any)
	src, _ := m["source"].(map[string]any)
	e := &Event{
		MessageID: asString(m["messageId"]),
		EventName: asString(m["eventName"]),
		StoreCode: asString(m["storeCode"]),
		Source: Source{
			Topic:     asString(src["topic"]),
			Partition: int32(asInt(src["partition"])),
			Offset:    asInt(src["offset"]),
			Table:     asString(src["table"]),
			Op:        asString(src["op"]),
			LSN:       asInt(src["lsn"]),
			TxID:      asInt(src["txId"]),
		},
	}
	e.CreatedAt, _ = m["createdAt"].(time.Time)
	e.Data, _ = m["data"].(map[string]any)
	// The branch of data must be the event name's, or the data would be read as another
	// trigger's.
	for branch := range native.(map[string]any)["data"].(map[string]any) {
		if branch != dataNamespace+"."+e.EventName {
			return nil, fmt.Errorf("decode webhook event: event %s carries the data of %s", e.EventName, branch)
		}
	}
	return e, nil
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

func asInt(v any) int64 {
	n, _ := v.(int64)
	return n
}

// plain turns a value goavro decoded into its plain form (see Event). A record's null fields
// are left out of its map.
func (t *avroType) plain(v any) (any, error) {
	switch t.kind {
	case kindInt:
		n, ok := v.(int32)
		if !ok {
			return nil, fmt.Errorf("want int32, got %T", v)
		}
		return int64(n), nil
	case kindTimestampMillis, kindTimestampMicros, kindDate:
		tm, ok := v.(time.Time)
		if !ok {
			return nil, fmt.Errorf("want time.Time, got %T", v)
		}
		return tm.UTC(), nil
	case kindRecord:
		return t.plainRecord(v)
	case kindArray:
		a, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("want []any, got %T", v)
		}
		out := make([]any, len(a))
		for i, x := range a {
			var err error
			if out[i], err = t.items.plain(x); err != nil {
				return nil, atIndex(i, err)
			}
		}
		return out, nil
	case kindUnion:
		return t.plainUnion(v)
	}
	return v, nil // null, boolean, long, string, uuid, enum and decimal are plain already
}

func (t *avroType) plainRecord(v any) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want map[string]any, got %T", v)
	}
	out := make(map[string]any, len(t.fields))
	for i := range t.fields {
		f := &t.fields[i]
		x, err := f.typ.plain(m[f.name])
		if err != nil {
			return nil, atField(f.name, err)
		}
		if x != nil {
			out[f.name] = x
		}
	}
	return out, nil
}

// plainUnion unwraps goavro's {"branch name": value}.
func (t *avroType) plainUnion(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	wrapped, ok := v.(map[string]any)
	if !ok || len(wrapped) != 1 {
		return nil, fmt.Errorf("want a union value, got %T", v)
	}
	for name, x := range wrapped {
		if t.null >= 0 {
			some, _ := t.some()
			return some.plain(x)
		}
		for _, b := range t.branches {
			if b.name == name {
				x, err := b.plain(x)
				if err != nil {
					err = atField(strings.TrimPrefix(name, dataNamespace+"."), err)
				}
				return x, err
			}
		}
		return nil, fmt.Errorf("union has no branch %s", name)
	}
	return nil, nil
}
