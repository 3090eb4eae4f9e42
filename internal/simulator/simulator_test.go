package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
)

// fakeClock starts at a fixed instant and moves on by a second and a half on every reading.
func fakeClock() func() time.Time {
	t := time.Date(2025, 11, 26, 10, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(1500 * time.Millisecond)
		return t
	}
}

// run takes a snapshot and then steps, returning the snapshot's and the steps' changes.
func run(t *testing.T, o Options, steps int) (snapshot, streamed []*cdc.Change) {
	t.Helper()
	if o.Clock == nil {
		o.Clock = fakeClock()
	}
	s := New(o)
	ctx := context.Background()
	if err := s.Snapshot(ctx, collect(&snapshot)); err != nil {
		t.Fatal(err)
	}
	for i := range steps {
		if err := s.Step(ctx, collect(&streamed)); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	return snapshot, streamed
}

func collect(into *[]*cdc.Change) Sink {
	return func(_ context.Context, ch *cdc.Change) error {
		*into = append(*into, ch)
		return nil
	}
}

func TestSameSeedGivesSameChanges(t *testing.T) {
	o := Options{Seed: 42, Tenants: 2}
	snapA, stepsA := run(t, o, 400)
	snapB, stepsB := run(t, o, 400)
	if !reflect.DeepEqual(snapA, snapB) {
		t.Error("two snapshots with the same seed differ")
	}
	if len(stepsA) != len(stepsB) {
		t.Fatalf("same seed: %d vs %d changes", len(stepsA), len(stepsB))
	}
	for i := range stepsA {
		if !reflect.DeepEqual(stepsA[i], stepsB[i]) {
			t.Fatalf("same seed: change %d differs:\n%s\n%s", i, describe(stepsA[i]), describe(stepsB[i]))
		}
	}
	_, stepsC := run(t, Options{Seed: 43, Tenants: 2}, 400)
	if reflect.DeepEqual(stepsA, stepsC) {
		t.Error("different seeds gave the same changes")
	}
}

func TestSnapshotHasEveryTable(t *testing.T) {
	snapshot, _ := run(t, Options{Seed: 1}, 0)
	seen := map[string]int{}
	for i, ch := range snapshot {
		seen[ch.Table]++
		if ch.Op != cdc.OpRead || ch.Before != nil || ch.After == nil {
			t.Fatalf("snapshot change %d: op %s, before %v, after %v", i, ch.Op, ch.Before != nil, ch.After != nil)
		}
		want := "true"
		if i == len(snapshot)-1 {
			want = "last"
		}
		if ch.Source.Snapshot != want {
			t.Errorf("snapshot change %d: source.snapshot %q, want %q", i, ch.Source.Snapshot, want)
		}
	}
	for _, def := range cdc.Reference {
		if seen[def.Name] == 0 {
			t.Errorf("snapshot has no %s rows", def.Name)
		}
	}
	if seen["tier"] < 3 || seen["tier"] > 4 {
		t.Errorf("snapshot has %d tiers, want a set of 3 or 4", seen["tier"])
	}
}

// TestRowsFollowTheReferenceSchema checks every key, before and after image: every column of
// the table in table order, each value of its column's kind or NULL, JSON that parses.
func TestRowsFollowTheReferenceSchema(t *testing.T) {
	snapshot, streamed := run(t, Options{Seed: 7, Tenants: 2}, 600)
	for _, ch := range append(snapshot, streamed...) {
		def, ok := cdc.ReferenceTable(ch.Table)
		if !ok {
			t.Fatalf("change of unknown table %q", ch.Table)
		}
		if len(ch.Key.Columns) != 1 || ch.Key.Columns[0].Name != def.Key[0] || !ch.Key.Columns[0].Value.Known() {
			t.Errorf("%s: key %+v, want %s", ch.Table, ch.Key, def.Key[0])
		}
		for _, img := range []*cdc.Row{ch.Before, ch.After} {
			if img == nil {
				continue
			}
			if len(img.Columns) != len(def.Columns) {
				t.Fatalf("%s: row has %d columns, want %d", ch.Table, len(img.Columns), len(def.Columns))
			}
			for i, c := range def.Columns {
				got := img.Columns[i]
				if got.Name != c.Name {
					t.Fatalf("%s: column %d is %s, want %s", ch.Table, i, got.Name, c.Name)
				}
				if !got.Value.IsNull() && got.Value.Kind != c.Type.Kind() {
					t.Errorf("%s.%s: kind %d, want %d (%s)", ch.Table, c.Name, got.Value.Kind, c.Type.Kind(), c.Type)
				}
				if got.Value.Kind == cdc.Decimal {
					if _, err := hundredths(got.Value.Str); err != nil {
						t.Errorf("%s.%s: %v", ch.Table, c.Name, err)
					}
				}
				if got.Value.Kind == cdc.JSON && !jsonValid(got.Value.Str) {
					t.Errorf("%s.%s: invalid JSON %s", ch.Table, c.Name, got.Value.Str)
				}
			}
			if got := img.Get(def.Key[0]); !got.Equal(ch.Key.Columns[0].Value) {
				t.Errorf("%s: row key %v differs from the change key %v", ch.Table, got, ch.Key.Columns[0].Value)
			}
		}
	}
}

// TestSourceCoordinates checks the Debezium source block: snapshot rows share the snapshot's
// txId and LSN; after it every change has a greater LSN than the one before, the changes of one
// action share a txId and ts_ms, and txIds grow from action to action.
func TestSourceCoordinates(t *testing.T) {
	clock := fakeClock()
	s := New(Options{Seed: 3, Clock: clock})
	ctx := context.Background()
	var snapshot []*cdc.Change
	if err := s.Snapshot(ctx, collect(&snapshot)); err != nil {
		t.Fatal(err)
	}
	for _, ch := range snapshot {
		if ch.Source.LSN != snapshot[0].Source.LSN || ch.Source.TxID != snapshot[0].Source.TxID {
			t.Fatalf("snapshot row %s at lsn %d tx %d, first at lsn %d tx %d", ch.Table, ch.Source.LSN, ch.Source.TxID, snapshot[0].Source.LSN, snapshot[0].Source.TxID)
		}
		if ch.Source.DB != DatabaseName || ch.Source.Schema != SchemaName || ch.Source.Table != ch.Table {
			t.Fatalf("snapshot row source %+v", ch.Source)
		}
	}
	lastLSN, lastTx := snapshot[0].Source.LSN, snapshot[0].Source.TxID
	for i := range 500 {
		var changes []*cdc.Change
		if err := s.Step(ctx, collect(&changes)); err != nil {
			t.Fatal(err)
		}
		if len(changes) == 0 {
			t.Fatalf("step %d wrote nothing", i)
		}
		tx, ts := changes[0].Source.TxID, changes[0].Source.TsMs
		if tx <= lastTx {
			t.Fatalf("step %d: txId %d after %d", i, tx, lastTx)
		}
		for _, ch := range changes {
			if ch.Source.LSN <= lastLSN {
				t.Fatalf("step %d: %s %s at lsn %d after %d", i, ch.Op, ch.Table, ch.Source.LSN, lastLSN)
			}
			if ch.Source.TxID != tx || ch.Source.TsMs != ts {
				t.Fatalf("step %d: changes of one transaction with txId %d/%d, ts_ms %d/%d", i, ch.Source.TxID, tx, ch.Source.TsMs, ts)
			}
			if ch.Source.Snapshot != "false" || ch.TsMs < ch.Source.TsMs {
				t.Fatalf("step %d: snapshot %q, envelope ts_ms %d before source ts_ms %d", i, ch.Source.Snapshot, ch.TsMs, ch.Source.TsMs)
			}
			lastLSN = ch.Source.LSN
		}
		lastTx = tx
	}
}

// TestImagesChainUp replays every change over the rows seen so far: an insert brings a new key,
// an update's before image is the row as it last was (REPLICA IDENTITY FULL) and something
// changes, a delete's before image is the last row.
func TestImagesChainUp(t *testing.T) {
	snapshot, streamed := run(t, Options{Seed: 11, Tenants: 2}, 1500)
	rows := map[string]*cdc.Row{}
	id := func(ch *cdc.Change) string { return ch.Table + "/" + ch.KeyText() }
	for _, ch := range snapshot {
		rows[id(ch)] = ch.After
	}
	for i, ch := range streamed {
		k := id(ch)
		switch ch.Op {
		case cdc.OpCreate:
			if rows[k] != nil {
				t.Fatalf("change %d: insert of existing %s", i, k)
			}
			rows[k] = ch.After
		case cdc.OpUpdate:
			if ch.Before == nil || !reflect.DeepEqual(ch.Before, rows[k]) {
				t.Fatalf("change %d: update of %s with before image\n%v\nbut the row was\n%v", i, k, ch.Before, rows[k])
			}
			if reflect.DeepEqual(ch.Before, ch.After) {
				t.Fatalf("change %d: update of %s changes nothing", i, k)
			}
			rows[k] = ch.After
		case cdc.OpDelete:
			if ch.After != nil || !reflect.DeepEqual(ch.Before, rows[k]) {
				t.Fatalf("change %d: delete of %s with before image %v, row %v", i, k, ch.Before, rows[k])
			}
			delete(rows, k)
		default:
			t.Fatalf("change %d: op %s while streaming", i, ch.Op)
		}
	}
}

// TestWalletsAgreeWithTransfers replays the changes and checks, after every action, that a
// wallet's active units are what its unexpired, unspent, unlocked transfers still hold, that
// its pending units are its locked transfers, that no amount is negative and that
// last_transfer_id names a transfer of that wallet.
func TestWalletsAgreeWithTransfers(t *testing.T) {
	snapshot, streamed := run(t, Options{Seed: 5, Tenants: 2}, 1500)
	wallets := map[string]*cdc.Row{}
	transfers := map[string]*cdc.Row{}
	apply := func(ch *cdc.Change) {
		switch ch.Table {
		case "wallet":
			wallets[ch.KeyText()] = ch.After
		case "unit_transfer":
			transfers[ch.KeyText()] = ch.After
		}
	}
	check := func(when string) {
		active, pending := map[string]int64{}, map[string]int64{}
		for id, tr := range transfers {
			typ := tr.Get("type").Str
			if typ != transferAdding && typ != transferP2PAdding || tr.Get("cancelled").Bool() {
				continue
			}
			w := tr.Get("wallet_id").Str
			if tr.Get("pending").Bool() {
				pending[w] += mustHundredths(t, tr.Get("units"))
				continue
			}
			r := mustHundredths(t, tr.Get("remaining_units"))
			if r < 0 || r > mustHundredths(t, tr.Get("units")) {
				t.Fatalf("%s: transfer %s has %d remaining of %s", when, id, r, tr.Get("units").Str)
			}
			active[w] += r
		}
		for id, w := range wallets {
			for _, col := range []string{"active_units", "pending_units", "blocked_units", "expired_units", "spent_units", "earned_units"} {
				if mustHundredths(t, w.Get(col)) < 0 {
					t.Fatalf("%s: wallet %s has %s %s", when, id, col, w.Get(col).Str)
				}
			}
			if got := mustHundredths(t, w.Get("active_units")); got != active[id] {
				t.Fatalf("%s: wallet %s active_units %d, transfers hold %d", when, id, got, active[id])
			}
			if got := mustHundredths(t, w.Get("pending_units")); got != pending[id] {
				t.Fatalf("%s: wallet %s pending_units %d, locked transfers %d", when, id, got, pending[id])
			}
			if last := w.Get("last_transfer_id"); last.Known() {
				tr := transfers[last.Str]
				if tr == nil || tr.Get("wallet_id").Str != id {
					t.Fatalf("%s: wallet %s last_transfer_id %s is not one of its transfers", when, id, last.Str)
				}
			}
		}
	}
	for _, ch := range snapshot {
		apply(ch)
	}
	check("after the snapshot")
	for i, ch := range streamed {
		apply(ch)
		if i+1 == len(streamed) || streamed[i+1].Source.TxID != ch.Source.TxID {
			check(fmt.Sprintf("after txId %d", ch.Source.TxID))
		}
	}
}

func TestWeightsChooseTheActions(t *testing.T) {
	_, streamed := run(t, Options{Seed: 9, Weights: map[Action]int{PointsAdded: 1}}, 50)
	for _, ch := range streamed {
		if ch.Table != "unit_transfer" && ch.Table != "wallet" {
			t.Fatalf("only points are added, yet %s %s was written", ch.Op, ch.Table)
		}
	}
	if len(streamed) != 100 {
		t.Fatalf("50 points added wrote %d changes, want 100", len(streamed))
	}
}

func TestDoReportsWhenNothingIsLeft(t *testing.T) {
	s := New(Options{Seed: 2, Clock: fakeClock()})
	ctx := context.Background()
	discard := func(context.Context, *cdc.Change) error { return nil }
	if err := s.Do(ctx, Action("lottery_won"), discard); err == nil || errors.Is(err, ErrNotPossible) {
		t.Fatalf("unknown action: %v", err)
	}
	// Every redemption reaches a final status in a few changes; then there is nothing to move.
	for i := range 1000 {
		err := s.Do(ctx, RedemptionStatusChanged, discard)
		if errors.Is(err, ErrNotPossible) {
			if i == 0 {
				t.Fatal("the seeded database has no open redemption to change")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("redemptions never reached a final status")
}

func TestSinkErrorsStopTheStep(t *testing.T) {
	s := New(Options{Seed: 4, Clock: fakeClock()})
	boom := errors.New("broker down")
	calls := 0
	err := s.Step(context.Background(), func(context.Context, *cdc.Change) error {
		calls++
		return boom
	})
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("Step = %v after %d sink calls, want the sink's error after one", err, calls)
	}
}

func TestJSONBText(t *testing.T) {
	got := jsonbText(map[string]any{"street": "Świdnicka \"5\"", "city": "Wrocław", "nip": nil, "n": numberText("12.50"), "list": []any{1, true}})
	want := `{"n": 12.50, "nip": null, "city": "Wrocław", "list": [1, true], "street": "Świdnicka \"5\""}`
	if got != want {
		t.Fatalf("jsonb text\n got  %s\n want %s", got, want)
	}
}

func TestUnitsText(t *testing.T) {
	for u, want := range map[units]string{0: "0.00", 5: "0.05", 1250: "12.50", -300: "-3.00", -5: "-0.05"} {
		if got := u.String(); got != want {
			t.Errorf("units(%d) = %q, want %q", int64(u), got, want)
		}
	}
}

func describe(ch *cdc.Change) string {
	return fmt.Sprintf("%s %s key=%s tx=%d lsn=%d", ch.Op, ch.Table, ch.KeyText(), ch.Source.TxID, ch.Source.LSN)
}

// hundredths reads a decimal with at most two decimals exactly.
func hundredths(s string) (int64, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 {
		return 0, fmt.Errorf("decimal %q has more than two decimals", s)
	}
	frac += strings.Repeat("0", 2-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("decimal %q: %w", s, err)
	}
	return n, nil
}

func mustHundredths(t *testing.T, v cdc.Value) int64 {
	t.Helper()
	if v.Kind != cdc.Decimal {
		t.Fatalf("not a decimal: %+v", v)
	}
	n, err := hundredths(v.Str)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func jsonValid(s string) bool { return json.Valid([]byte(s)) }
