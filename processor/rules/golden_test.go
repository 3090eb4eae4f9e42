package rules

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/loyaltyhooks/loyaltyhooks/schemas"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// The golden files render events as JSON in the field order of the trigger schemas, with
// decimals as their exact decimal text and instants in RFC 3339. Rendering walks the schema,
// so it also checks the data against it: unknown fields, wrong Go types, values that do not fit
// the decimal scale. Each event's data is then encoded with goavro against the schema.

// avro is the trigger and shared-type schemas, parsed.
type avro struct {
	named map[string]map[string]any // named types by full name
	texts []string                  // shared type files
	codec map[string]*goavro.Codec  // per trigger: shared types + the trigger record
}

var loadAvro = sync.OnceValues(func() (*avro, error) {
	a := &avro{named: map[string]map[string]any{}, codec: map[string]*goavro.Codec{}}
	for _, dir := range []string{"types", "triggers"} {
		files, err := filepath.Glob(filepath.Join(schemaDir, dir, "*.avsc"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			var node map[string]any
			if err := json.Unmarshal(b, &node); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			a.define(node, "")
			if dir == "types" {
				a.texts = append(a.texts, string(b))
				continue
			}
			c, err := goavro.NewCodec("[" + strings.Join(append(append([]string{}, a.texts...), string(b)), ",") + "]")
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			a.codec[node["name"].(string)] = c
		}
	}
	return a, nil
})

// define records every named record in node by full name.
func (a *avro) define(node any, ns string) {
	switch n := node.(type) {
	case []any:
		for _, b := range n {
			a.define(b, ns)
		}
	case map[string]any:
		switch n["type"] {
		case "record":
			full := fullName(n, ns)
			a.named[full] = n
			for _, f := range n["fields"].([]any) {
				a.define(f.(map[string]any)["type"], full[:strings.LastIndexByte(full, '.')])
			}
		case "array":
			a.define(n["items"], ns)
		}
	}
}

func fullName(n map[string]any, ns string) string {
	name := n["name"].(string)
	if strings.Contains(name, ".") {
		return name
	}
	if s, ok := n["namespace"].(string); ok {
		ns = s
	}
	return ns + "." + name
}

// render writes v as JSON following schema node and returns v in goavro's native form.
func (a *avro) render(w *bytes.Buffer, node any, v any, ns, path string) (any, error) {
	switch n := node.(type) {
	case string:
		if def, ok := a.named[n]; ok {
			return a.render(w, def, v, ns, path)
		}
		if def, ok := a.named[ns+"."+n]; ok {
			return a.render(w, def, v, ns, path)
		}
		return a.primitive(w, n, "", v, path)
	case []any:
		if v == nil {
			w.WriteString("null")
			return nil, nil
		}
		for _, b := range n {
			if b == "null" {
				continue
			}
			nv, err := a.render(w, b, v, ns, path)
			if err != nil {
				return nil, err
			}
			return map[string]any{a.branchName(b, ns): nv}, nil
		}
	case map[string]any:
		switch n["type"] {
		case "record":
			return a.record(w, n, v, ns, path)
		case "array":
			list, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("%s: want []any, got %T", path, v)
			}
			w.WriteByte('[')
			out := make([]any, len(list))
			for i, item := range list {
				if i > 0 {
					w.WriteByte(',')
				}
				nv, err := a.render(w, n["items"], item, ns, fmt.Sprintf("%s[%d]", path, i))
				if err != nil {
					return nil, err
				}
				out[i] = nv
			}
			w.WriteByte(']')
			return out, nil
		default:
			logical, _ := n["logicalType"].(string)
			return a.primitive(w, n["type"].(string), logical, v, path)
		}
	}
	return nil, fmt.Errorf("%s: unsupported schema %v", path, node)
}

func (a *avro) record(w *bytes.Buffer, n map[string]any, v any, ns, path string) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want map[string]any, got %T", path, v)
	}
	full := fullName(n, ns)
	ns = full[:strings.LastIndexByte(full, '.')]
	fields := n["fields"].([]any)
	known := map[string]bool{}
	out := map[string]any{}
	w.WriteByte('{')
	for i, f := range fields {
		f := f.(map[string]any)
		name := f["name"].(string)
		known[name] = true
		if i > 0 {
			w.WriteByte(',')
		}
		fmt.Fprintf(w, "%q:", name)
		nv, err := a.render(w, f["type"], m[name], ns, path+"."+name)
		if err != nil {
			return nil, err
		}
		out[name] = nv
	}
	w.WriteByte('}')
	for k := range m {
		if !known[k] {
			return nil, fmt.Errorf("%s: field %q is not in record %s", path, k, full)
		}
	}
	return out, nil
}

func (a *avro) primitive(w *bytes.Buffer, typ, logical string, v any, path string) (any, error) {
	bad := func() (any, error) { return nil, fmt.Errorf("%s: %T %v does not fit %s %s", path, v, v, typ, logical) }
	switch {
	case typ == "null" && v == nil:
		w.WriteString("null")
		return nil, nil
	case typ == "string":
		s, ok := v.(string)
		if !ok {
			return bad()
		}
		b, _ := json.Marshal(s)
		w.Write(b)
		return s, nil
	case typ == "boolean":
		b, ok := v.(bool)
		if !ok {
			return bad()
		}
		w.WriteString(strconv.FormatBool(b))
		return b, nil
	case typ == "bytes" && logical == "decimal":
		r, ok := asRat(v)
		if !ok {
			return bad()
		}
		s, exact := decimalText(r)
		if !exact || fractionDigits(s) > 8 {
			return nil, fmt.Errorf("%s: %s does not fit scale 8", path, r.String())
		}
		fmt.Fprintf(w, "%q", s)
		return r, nil
	case (typ == "long" && logical == "timestamp-micros") || (typ == "int" && logical == "date"):
		t, ok := v.(time.Time)
		if !ok || t.Location() != time.UTC {
			return bad()
		}
		if logical == "date" {
			if !t.Equal(t.Truncate(24 * time.Hour)) {
				return nil, fmt.Errorf("%s: date %v is not midnight", path, t)
			}
			fmt.Fprintf(w, "%q", t.Format(time.DateOnly))
		} else {
			fmt.Fprintf(w, "%q", t.Format(time.RFC3339Nano))
		}
		return t, nil
	case typ == "long" || typ == "int":
		i, ok := v.(int64)
		if !ok {
			return bad()
		}
		w.WriteString(strconv.FormatInt(i, 10))
		return i, nil
	}
	return bad()
}

// branchName is goavro's name of a union branch.
func (a *avro) branchName(b any, ns string) string {
	switch b := b.(type) {
	case string:
		return b // primitives by name, named types by the full names the schemas use
	case map[string]any:
		switch b["type"] {
		case "record":
			return fullName(b, ns)
		case "array":
			return "array"
		}
		if l, ok := b["logicalType"].(string); ok {
			return b["type"].(string) + "." + l
		}
		return b["type"].(string)
	}
	return ""
}

// asRat returns the number of a decimal field's value: a *big.Rat or a schemas.Decimal.
func asRat(v any) (*big.Rat, bool) {
	switch x := v.(type) {
	case *big.Rat:
		return x, x != nil
	case schemas.Decimal:
		return x.Rat(), true
	}
	return nil, false
}

// decimalText is the exact decimal text of r, and whether r has one.
func decimalText(r *big.Rat) (string, bool) {
	d := new(big.Int).Set(r.Denom())
	n := 0
	ten := big.NewInt(10)
	for ; n < 60; n++ {
		if new(big.Int).Mod(new(big.Int).Exp(ten, big.NewInt(int64(n)), nil), d).Sign() == 0 {
			break
		}
	}
	if n == 60 {
		return r.String(), false
	}
	return r.FloatString(n), true
}

func fractionDigits(s string) int {
	if _, frac, ok := strings.Cut(s, "."); ok {
		return len(frac)
	}
	return 0
}

// renderEvents renders events as the golden JSON: the envelope fields, then data.
func renderEvents(t *testing.T, evs []Event) []byte {
	t.Helper()
	a, err := loadAvro()
	if err != nil {
		t.Fatal(err)
	}
	var w bytes.Buffer
	w.WriteByte('[')
	for i, ev := range evs {
		if i > 0 {
			w.WriteByte(',')
		}
		head, _ := json.Marshal(struct {
			Key       string
			MessageID string
			EventName string
			StoreCode string
			CreatedAt string
			Source    any
		}{ev.Key, ev.MessageID, ev.EventName, ev.StoreCode, ev.CreatedAt.Format(time.RFC3339Nano), ev.Source})
		w.Write(head[:len(head)-1])
		w.WriteString(`,"Data":`)
		full := "io.loyaltyhooks.data." + ev.EventName
		native, err := a.render(&w, full, ev.Data, "", ev.EventName)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		w.WriteByte('}')
		if _, err := a.codec[ev.EventName].BinaryFromNative(nil, map[string]any{full: native}); err != nil {
			t.Fatalf("event %d: avro encoding: %v", i, err)
		}
	}
	w.WriteByte(']')
	var out bytes.Buffer
	if err := json.Indent(&out, w.Bytes(), "", "  "); err != nil {
		t.Fatalf("render: %v\n%s", err, w.Bytes())
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// golden compares the events with testdata/<name>.json, rewriting it under -update.
func golden(t *testing.T, name string, evs []Event) {
	t.Helper()
	got := renderEvents(t, evs)
	file := filepath.Join("testdata", name+".json")
	if *updateGolden {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("events differ from %s (run with -update to accept):\n%s", file, got)
	}
}
