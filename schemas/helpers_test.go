package schemas

import (
	"flag"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"testing/fstest"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./schemas -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the output (run go test ./schemas -update after checking):\n got %s\nwant %s", file, got, want)
	}
}

// fixtureFS is the real webhook_event.avsc with the small trigger and type files of
// testdata/schemas.
func fixtureFS(t testing.TB) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	root := os.DirFS("testdata/schemas")
	err := fs.WalkDir(root, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, path)
		fsys[path] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	envelope, err := os.ReadFile(envelopeFile)
	if err != nil {
		t.Fatal(err)
	}
	fsys[envelopeFile] = &fstest.MapFile{Data: envelope}
	return fsys
}

func fixtureCodec(t testing.TB) *Codec {
	t.Helper()
	c, err := NewFromFS(fixtureFS(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("bad decimal " + s)
	}
	return r
}

const (
	customerID = "0f9a6a52-5c1e-4d8e-9b7a-3c2d1e0f4a5b"
	messageID  = "8d4e7a1c-3b2f-4f6a-9c1d-2e5b7a8c9d0e"
)

// customerRegistered has a value of every kind the codec supports.
func customerRegistered() *Event {
	return &Event{
		MessageID: messageID,
		EventName: "CustomerRegistered",
		StoreCode: "DEFAULT",
		CreatedAt: time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC),
		Data: map[string]any{
			"customer": map[string]any{
				"customerId": customerID,
				"email":      "ana@example.com",
				"phone":      nil,
				"gender":     "female",
			},
			"birthDate":    time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC),
			"registeredAt": time.Date(2025, 3, 14, 9, 26, 53, 123_456_000, time.UTC),
			"active":       true,
			"visits":       int64(-7),
			"points":       int64(-12_000_000_000),
			"balance":      rat("-0.25"),
			"labels": []any{
				map[string]any{"key": "tier", "value": "gold \"vip\"\n\u2028<ok>"},
				map[string]any{"key": "ünïcode ✓"},
			},
			"previousGender": nil,
		},
		Source: Source{Topic: "loyalty.public.member", Partition: 3, Offset: 42, Table: "member", Op: "c", LSN: 123456789},
	}
}

// transactionRegistered has decimals past 64 bits, nested and shared records and arrays.
func transactionRegistered() *Event {
	return &Event{
		MessageID: messageID,
		EventName: "TransactionRegistered",
		CreatedAt: time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC),
		Data: map[string]any{
			"transactionId": customerID,
			"grossValue":    rat("123456789012345678901234567890.12345678"),
			"items": []any{
				map[string]any{"sku": "A-1", "quantity": rat("2"), "grossValue": rat("100"), "labels": []any{}},
				map[string]any{"sku": "B-2", "quantity": rat("-0.5"), "labels": []any{
					map[string]any{"key": "color", "value": "red"},
				}},
			},
			"walletType": map[string]any{"code": "points"},
			"wallet": map[string]any{
				"walletId":    customerID,
				"walletType":  map[string]any{"code": "stars"},
				"activeUnits": rat("12.5"),
			},
		},
		Source: Source{Topic: "loyalty.public.transaction", Offset: 7, Table: "transaction", Op: "c", LSN: 99, TxID: 1234},
	}
}

// diffPlain returns where got differs from want, both in plain values (see Event), or "".
// A nil map entry and a missing one are the same null; int and int64 are the same integer.
func diffPlain(path string, want, got any) string {
	switch w := want.(type) {
	case int:
		want = int64(w)
	case *big.Rat:
		g, ok := got.(*big.Rat)
		if !ok || w.Cmp(g) != 0 {
			return fmt.Sprintf("%s: want %v, got %v", path, w.RatString(), got)
		}
		return ""
	case time.Time:
		g, ok := got.(time.Time)
		if !ok || !w.Equal(g) || g.Location() != time.UTC {
			return fmt.Sprintf("%s: want %v, got %v", path, w, got)
		}
		return ""
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want a map, got %T", path, got)
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			if d := diffPlain(path+"."+k, w[k], g[k]); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: want %d items, got %#v", path, len(w), got)
		}
		for i := range w {
			if d := diffPlain(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Sprintf("%s: want %#v, got %#v", path, want, got)
	}
	return ""
}

func diffEvent(want, got *Event) string {
	if want.MessageID != got.MessageID || want.EventName != got.EventName || want.StoreCode != got.StoreCode ||
		!want.CreatedAt.Equal(got.CreatedAt) || got.CreatedAt.Location() != time.UTC || want.Source != got.Source {
		return fmt.Sprintf("envelope: want %+v, got %+v", *want, *got)
	}
	return diffPlain("data", want.Data, got.Data)
}
