package config

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const exampleFile = "loyaltyhooks.example.yaml"

// The example file documents the defaults: loading it must change nothing.
func TestExampleFileIsTheDefaults(t *testing.T) {
	clearEnv(t)
	host, err := os.Hostname()
	if err != nil {
		t.Skip("host has no name:", err)
	}
	want := Defaults()
	want.Processor.InstanceID = host
	if got := mustLoad(t, exampleFile, nil); !reflect.DeepEqual(got, want) {
		t.Errorf("loading %s =\n%+v\nwant Defaults()\n%+v", exampleFile, got, want)
	}
}

// Every key has its place in the example, spelled exactly as Print spells it.
func TestExampleFileHasEveryKey(t *testing.T) {
	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	eachLeaf(reflect.ValueOf(Defaults()), "", func(key string, _ reflect.Value) {
		if !hasPath(raw, key) {
			t.Errorf("%s lacks key %s", exampleFile, key)
		}
	})
}

// hasPath looks a dotted key up in a parsed YAML tree, matching case exactly.
func hasPath(m map[string]any, key string) bool {
	var node any = m
	for seg := range strings.SplitSeq(key, ".") {
		branch, ok := node.(map[string]any)
		if !ok {
			return false
		}
		if node, ok = branch[seg]; !ok {
			return false
		}
	}
	return true
}
