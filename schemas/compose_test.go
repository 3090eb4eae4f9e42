package schemas

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"
)

func indent(t *testing.T, schema string) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, []byte(schema), "", "  "); err != nil {
		t.Fatal(err)
	}
	return append(out.Bytes(), '\n')
}

// TestEmbeddedSchema composes the schema files shipped in the binary.
func TestEmbeddedSchema(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "webhook_event.golden.avsc", indent(t, c.Schema()))
}

func TestFixtureSchema(t *testing.T) {
	golden(t, "fixture.golden.avsc", indent(t, fixtureCodec(t).Schema()))
}

// TestComposeDefinesAtFirstUse checks that each shared type is defined once, where it is
// first used, and named after that, wherever its definition sits in the files.
func TestComposeDefinesAtFirstUse(t *testing.T) {
	s := fixtureCodec(t).Schema()
	for _, tc := range []struct {
		definition, reference string
	}{
		{`{"name":"Customer","namespace":"io.loyaltyhooks","type":"record"`, `"io.loyaltyhooks.Customer"`},
		{`{"name":"Gender","namespace":"io.loyaltyhooks","type":"enum"`, `"io.loyaltyhooks.Gender"`},
		// WalletType is written inside Wallet but used on its own first.
		{`{"name":"WalletType","namespace":"io.loyaltyhooks","type":"record"`, `"io.loyaltyhooks.WalletType"`},
		{`{"name":"Wallet","namespace":"io.loyaltyhooks","type":"record"`, ``},
		{`{"name":"Label","namespace":"io.loyaltyhooks.data","type":"record"`, `"io.loyaltyhooks.data.Label"`},
	} {
		if n := strings.Count(s, tc.definition); n != 1 {
			t.Errorf("%s defined %d times, want once", tc.definition, n)
			continue
		}
		if tc.reference == "" {
			continue
		}
		def, ref := strings.Index(s, tc.definition), strings.Index(s, tc.reference)
		if ref < 0 || ref < def {
			t.Errorf("%s: reference at %d, definition at %d; want a reference after the definition", tc.reference, ref, def)
		}
	}
}

func TestComposeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(fstest.MapFS)
		want string
	}{
		{
			name: "unknown type",
			edit: func(fsys fstest.MapFS) {
				replace(fsys, "triggers/CustomerDeactivated.avsc", "io.loyaltyhooks.Customer", "io.loyaltyhooks.Custmer")
			},
			want: `triggers/CustomerDeactivated.avsc: unknown type "io.loyaltyhooks.Custmer"`,
		},
		{
			name: "unknown short name in a shared type",
			edit: func(fsys fstest.MapFS) { replace(fsys, "types/Customer.avsc", `"Gender"`, `"Gendr"`) },
			want: `types/Customer.avsc: unknown type "io.loyaltyhooks.Gendr"`,
		},
		{
			name: "missing trigger",
			edit: func(fsys fstest.MapFS) { delete(fsys, "triggers/LevelWillExpire.avsc") },
			want: "triggers/LevelWillExpire.avsc: missing",
		},
		{
			name: "file that is no trigger",
			edit: func(fsys fstest.MapFS) {
				fsys["triggers/CustomerSneezed.avsc"] = &fstest.MapFile{Data: []byte(
					`{"type":"record","name":"CustomerSneezed","namespace":"io.loyaltyhooks.data","fields":[]}`)}
			},
			want: "triggers/CustomerSneezed.avsc: CustomerSneezed is not one of the triggers",
		},
		{
			name: "trigger file with another record",
			edit: func(fsys fstest.MapFS) {
				replace(fsys, "triggers/PointsWillExpire.avsc", `"namespace": "io.loyaltyhooks.data"`, `"namespace": "io.loyaltyhooks"`)
			},
			want: "triggers/PointsWillExpire.avsc: want the record io.loyaltyhooks.data.PointsWillExpire",
		},
		{
			name: "type defined twice",
			edit: func(fsys fstest.MapFS) {
				fsys["types/Gender2.avsc"] = fsys["types/Gender.avsc"]
			},
			want: `types/Gender2.avsc: type "io.loyaltyhooks.Gender" is already defined in types/Gender.avsc`,
		},
		{
			name: "floating point",
			edit: func(fsys fstest.MapFS) {
				replace(fsys, "triggers/CustomerRegistered.avsc", `{"name": "points", "type": "long"}`, `{"name": "points", "type": "double"}`)
			},
			want: "data.CustomerRegistered.points: double is not supported: use a decimal",
		},
		{
			name: "union of two types",
			edit: func(fsys fstest.MapFS) {
				replace(fsys, "triggers/CustomerRegistered.avsc", `{"name": "points", "type": "long"}`, `{"name": "points", "type": ["null", "long", "string"]}`)
			},
			want: `data.CustomerRegistered.points: only ["null", T] unions are supported`,
		},
		{
			name: "envelope edited",
			edit: func(fsys fstest.MapFS) {
				replace(fsys, envelopeFile, `{"name": "offset", "type": "long"}`, `{"name": "offset", "type": "int"}`)
			},
			want: "webhook_event.avsc does not have the fields the encoder writes",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fixtureFS(t)
			tc.edit(fsys)
			_, err := NewFromFS(fsys)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// replace edits a file of fsys, failing when old is not in it so the test cannot pass by
// editing nothing.
func replace(fsys fstest.MapFS, file, old, new string) {
	data := string(fsys[file].Data)
	if !strings.Contains(data, old) {
		panic(file + " has no " + old)
	}
	fsys[file] = &fstest.MapFile{Data: []byte(strings.Replace(data, old, new, 1))}
}

// TestCanonicalForm checks the canonical form and fingerprint against the examples of the
// Avro project's shared schema tests.
func TestCanonicalForm(t *testing.T) {
	for _, tc := range []struct {
		schema, canonical string
		fingerprint       int64
	}{
		{`"null"`, `"null"`, 7195948357588979594},
		{`"int"`, `"int"`, 8247732601305521295},
		{`{"type":"string"}`, `"string"`, -8142146995180207161},
		{`[ "int" , {"type":"boolean"} ]`, `["int","boolean"]`, 5392556393470105090},
		{`{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}`, `{"name":"x.y.foo","type":"record","fields":[]}`, 5916914534497305771},
		{`{"fields":[], "type":"record", "name":"a.b.foo", "namespace":"x.y"}`, `{"name":"a.b.foo","type":"record","fields":[]}`, -4616218487480524110},
		{
			`{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":"true"},
			            {"order":"descending","name":"f2","doc":"Hello","type":"int"}],
			  "type":"record", "name":"foo"}`,
			`{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}`,
			-4860222112080293046,
		},
		{`{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar", "symbols":["A1", "A2"]}`, `{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}`, -4448647247586288245},
		{`{"namespace":"x.y.z", "type":"fixed", "name":"foo", "doc":"foo bar", "size":32}`, `{"name":"x.y.z.foo","type":"fixed","size":32}`, -3064184465700546786},
		{`{ "items":{"type":"null"}, "type":"array"}`, `{"type":"array","items":"null"}`, -589620603366471059},
		{`{ "values":"string", "type":"map"}`, `{"type":"map","values":"string"}`, -8732877298790414990},
		{
			`{"name":"PigValue","type":"record","fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}`,
			`{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}`,
			-1759257747318642341,
		},
		// Not from the Avro tests: nested namespaces and logical types.
		{
			`{"type":"record","name":"E","namespace":"a","fields":[
				{"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}},
				{"name":"r","type":{"type":"record","name":"R","namespace":"b.c","fields":[{"name":"s","type":"S"}]}},
				{"name":"u","type":["null",{"type":"enum","name":"S","symbols":["X"]}]},
				{"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":38,"scale":8}}]}`,
			`{"name":"a.E","type":"record","fields":[{"name":"t","type":"long"},{"name":"r","type":{"name":"b.c.R","type":"record","fields":[{"name":"s","type":"b.c.S"}]}},{"name":"u","type":["null",{"name":"a.S","type":"enum","symbols":["X"]}]},{"name":"d","type":"bytes"}]}`,
			0,
		},
	} {
		node, err := decodeSchema([]byte(tc.schema))
		if err != nil {
			t.Fatal(err)
		}
		got, err := canonicalForm(nil, node, "")
		if err != nil {
			t.Errorf("%s: %v", tc.schema, err)
			continue
		}
		if string(got) != tc.canonical {
			t.Errorf("canonical form of %s\n got %s\nwant %s", tc.schema, got, tc.canonical)
		}
		if fp := fingerprint64(got); tc.fingerprint != 0 && fp != uint64(tc.fingerprint) {
			t.Errorf("fingerprint of %s: got %d, want %d", tc.canonical, int64(fp), tc.fingerprint)
		}
	}
}

func TestFingerprintIsOfCanonicalForm(t *testing.T) {
	c := fixtureCodec(t)
	if c.Fingerprint() != fingerprint64([]byte(c.canonical)) {
		t.Fatalf("fingerprint %x is not that of the canonical form", c.Fingerprint())
	}
	for _, stripped := range []string{"doc", "logicalType", "namespace", "default", " "} {
		if strings.Contains(c.canonical, stripped) {
			t.Errorf("canonical form holds %q", stripped)
		}
	}
}
