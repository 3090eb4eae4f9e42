package rules

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/linkedin/goavro/v2"

	"github.com/loyaltyhooks/loyaltyhooks/schemas"
)

const schemaDir = "../../schemas"

// sharedTypes returns the schemas of schemas/types, ordered so that every type follows the
// types it refers to.
func sharedTypes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(schemaDir, "types", "*.avsc"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no shared types: %v", err)
	}
	sort.Strings(files)
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct{ Name, Namespace string }
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if rec.Namespace != "io.loyaltyhooks" || rec.Name+".avsc" != filepath.Base(f) {
			t.Errorf("%s: record %s.%s, want io.loyaltyhooks.%s", f, rec.Namespace, rec.Name, strings.TrimSuffix(filepath.Base(f), ".avsc"))
		}
		out = append(out, string(b))
	}
	return out
}

// TestTriggerSchemasParse checks that every trigger record is the record its file names and
// that it parses as a self-contained schema once the shared types are put before it.
func TestTriggerSchemasParse(t *testing.T) {
	types := sharedTypes(t)
	for _, name := range schemas.Triggers {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(schemaDir, "triggers", name+".avsc"))
			if err != nil {
				t.Fatal(err)
			}
			var rec struct {
				Type, Name, Namespace string
				Fields                []struct{ Name string }
			}
			if err := json.Unmarshal(b, &rec); err != nil {
				t.Fatal(err)
			}
			if rec.Type != "record" || rec.Name != name || rec.Namespace != "io.loyaltyhooks.data" {
				t.Fatalf("got %s %s.%s, want record io.loyaltyhooks.data.%s", rec.Type, rec.Namespace, rec.Name, name)
			}
			union := "[" + strings.Join(append(append([]string{}, types...), string(b)), ",") + "]"
			if _, err := goavro.NewCodec(union); err != nil {
				t.Fatalf("parse with shared types: %v", err)
			}
		})
	}
	files, _ := filepath.Glob(filepath.Join(schemaDir, "triggers", "*.avsc"))
	if len(files) != len(schemas.Triggers) {
		t.Errorf("%d trigger schemas, want %d", len(files), len(schemas.Triggers))
	}
}
