package lookup

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
)

// Tables are the logical tables whose latest rows are kept, with the column that keys them.
var Tables = map[string]string{
	"tenant":        "tenant_id",
	"settings":      "tenant_id",
	"tier":          "tier_id",
	"member":        "member_id",
	"reward":        "reward_id",
	"campaign":      "campaign_id",
	"unit_transfer": "transfer_id",
	"wallet":        "wallet_id",
	// Issued rewards are kept for the CouponWillExpire timers, which re-check the coupon when
	// they come due.
	"issued_reward": "issued_reward_id",
}

// Record puts the row of a change to a lookup table into the view: the after image for
// inserts, updates and snapshot reads, a deletion for deletes. Other tables and operations
// (truncate, message) leave the view alone; it reports whether the change was recorded.
//
// A column Debezium reports as unavailable (an unchanged TOAST value) keeps what is known of
// it: the before image's value, else the value already stored. Storing the marker would turn a
// known value into a null for every later lookup.
func Record(v *View, ch *cdc.Change) bool {
	keyCol, ok := Tables[ch.Table]
	if !ok {
		return false
	}
	switch ch.Op {
	case cdc.OpCreate, cdc.OpUpdate, cdc.OpRead:
		ref, ok := RefOf(ch)
		if !ok {
			return false
		}
		v.Put(ref, completed(ch.After, ch.Before, v.rows[ref]))
		return true
	case cdc.OpDelete:
		key := ch.Before.Get(keyCol).Text()
		if key == "" {
			key = ch.KeyText()
		}
		if key == "" {
			return false
		}
		v.Put(Ref{ch.Table, key}, nil)
		return true
	}
	return false
}

// RefOf returns the lookup row a change to a lookup table writes.
func RefOf(ch *cdc.Change) (Ref, bool) {
	keyCol, ok := Tables[ch.Table]
	if !ok {
		return Ref{}, false
	}
	key := ch.Row().Get(keyCol).Text()
	if key == "" {
		key = ch.KeyText()
	}
	return Ref{ch.Table, key}, key != ""
}

// Stored returns the lookup row a change needs from the store before it is recorded: its own
// row, when its after image has columns Debezium reports as unavailable, which keep the stored
// value (see Record). A change that carries its row whole needs nothing fetched for it.
func Stored(ch *cdc.Change) (Ref, bool) {
	if ch.After == nil || !slices.ContainsFunc(ch.After.Columns, func(c cdc.Column) bool {
		return c.Value.Kind == cdc.Unavailable
	}) {
		return Ref{}, false
	}
	return RefOf(ch)
}

// completed returns after with its unavailable columns filled from before, then from stored; it
// returns after itself when nothing is unavailable.
func completed(after, before, stored *cdc.Row) *cdc.Row {
	var out *cdc.Row
	for i, c := range after.Columns {
		if c.Value.Kind != cdc.Unavailable {
			continue
		}
		known, ok := before.Get(c.Name), before.Has(c.Name)
		if !ok || known.Kind == cdc.Unavailable {
			known, ok = stored.Get(c.Name), stored.Has(c.Name)
		}
		if !ok || known.Kind == cdc.Unavailable {
			continue
		}
		if out == nil {
			out = &cdc.Row{Columns: slices.Clone(after.Columns)}
		}
		out.Columns[i].Value = known
	}
	if out == nil {
		return after
	}
	return out
}

// Store keeps lookup rows in Redis under <prefix>lookup:<table>:<key>, one string per row.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewStore returns a store on rdb whose keys start with prefix.
func NewStore(rdb redis.UniversalClient, prefix string) *Store {
	return &Store{rdb: rdb, prefix: prefix}
}

func (s *Store) key(r Ref) string { return s.prefix + "lookup:" + r.Table + ":" + r.Key }

// Fetch loads into the view every ref it does not know yet, in one pipeline (one round trip per
// Redis node). Rows that are not stored load as known-absent.
func (s *Store) Fetch(ctx context.Context, v *View, refs []Ref) error {
	var want []Ref
	seen := make(map[Ref]struct{}, len(refs))
	for _, r := range refs {
		if r.Key == "" || v.Loaded(r) {
			continue
		}
		if _, dup := seen[r]; dup {
			continue
		}
		seen[r] = struct{}{}
		want = append(want, r)
	}
	if len(want) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(want))
	for i, r := range want {
		cmds[i] = pipe.Get(ctx, s.key(r))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("fetch %d lookup rows: %w", len(want), err)
	}
	for i, r := range want {
		b, err := cmds[i].Bytes()
		if errors.Is(err, redis.Nil) {
			v.Load(r, nil)
			continue
		}
		if err != nil {
			return fmt.Errorf("fetch lookup %s/%s: %w", r.Table, r.Key, err)
		}
		row, err := DecodeRow(b)
		if err != nil {
			return fmt.Errorf("lookup %s/%s: %w", r.Table, r.Key, err)
		}
		v.Load(r, row)
	}
	return nil
}

// Flush writes the rows the view's batch changed, in one pipeline.
func (s *Store) Flush(ctx context.Context, v *View) error {
	dirty := v.Dirty()
	if len(dirty) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	for r, row := range dirty {
		if row == nil {
			pipe.Del(ctx, s.key(r))
			continue
		}
		pipe.Set(ctx, s.key(r), AppendRow(nil, row), 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store %d lookup rows: %w", len(dirty), err)
	}
	clear(dirty)
	return nil
}

// rowVersion leads every stored row so that a later change of the encoding is detected.
const rowVersion = 1

// AppendRow appends the compact binary form of a row: a version byte, the column count, then
// per column its name, kind and value (length-prefixed text or a zig-zag varint).
func AppendRow(dst []byte, r *cdc.Row) []byte {
	dst = append(dst, rowVersion)
	dst = binary.AppendUvarint(dst, uint64(len(r.Columns)))
	for _, c := range r.Columns {
		dst = binary.AppendUvarint(dst, uint64(len(c.Name)))
		dst = append(dst, c.Name...)
		dst = append(dst, byte(c.Value.Kind))
		switch c.Value.Kind {
		case cdc.String, cdc.Decimal, cdc.JSON:
			dst = binary.AppendUvarint(dst, uint64(len(c.Value.Str)))
			dst = append(dst, c.Value.Str...)
		case cdc.Int, cdc.Bool, cdc.Time, cdc.Date:
			dst = binary.AppendVarint(dst, c.Value.Int)
		}
	}
	return dst
}

// DecodeRow reads a row written by AppendRow.
func DecodeRow(b []byte) (*cdc.Row, error) {
	if len(b) == 0 || b[0] != rowVersion {
		return nil, errors.New("stored row has an unknown encoding version")
	}
	b = b[1:]
	n, b, err := uvarint(b)
	if err != nil || n > uint64(len(b)) {
		return nil, errors.New("stored row is truncated")
	}
	row := &cdc.Row{Columns: make([]cdc.Column, 0, n)}
	for range n {
		var name string
		if name, b, err = text(b); err != nil {
			return nil, err
		}
		if len(b) == 0 {
			return nil, errors.New("stored row is truncated")
		}
		v := cdc.Value{Kind: cdc.Kind(b[0])}
		b = b[1:]
		switch v.Kind {
		case cdc.String, cdc.Decimal, cdc.JSON:
			if v.Str, b, err = text(b); err != nil {
				return nil, err
			}
		case cdc.Int, cdc.Bool, cdc.Time, cdc.Date:
			x, k := binary.Varint(b)
			if k <= 0 {
				return nil, errors.New("stored row is truncated")
			}
			v.Int, b = x, b[k:]
		case cdc.Null, cdc.Unavailable:
		default:
			return nil, fmt.Errorf("stored row has unknown value kind %d", v.Kind)
		}
		row.Columns = append(row.Columns, cdc.Column{Name: name, Value: v})
	}
	return row, nil
}

func uvarint(b []byte) (uint64, []byte, error) {
	x, k := binary.Uvarint(b)
	if k <= 0 {
		return 0, nil, errors.New("stored row is truncated")
	}
	return x, b[k:], nil
}

func text(b []byte) (string, []byte, error) {
	n, b, err := uvarint(b)
	if err != nil {
		return "", nil, err
	}
	if n > uint64(len(b)) {
		return "", nil, errors.New("stored row is truncated")
	}
	return string(b[:n]), b[n:], nil
}
