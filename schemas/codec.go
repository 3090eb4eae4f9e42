package schemas

import (
	"embed"
	"fmt"
	"io/fs"
	"strings"

	"github.com/linkedin/goavro/v2"
)

// files holds the schema files. The directories are embedded whole so that a file added to
// them needs no change here; compose reads only their .avsc files.
//
//go:embed webhook_event.avsc triggers types
var files embed.FS

// Codec encodes and decodes WebhookEvent records with the schema composed from the .avsc
// files. It is safe for concurrent use.
type Codec struct {
	schema string
	*compiled
}

// compiled is a parsed WebhookEvent schema: ours, or a writer schema from the registry.
type compiled struct {
	avro        *goavro.Codec
	root        *avroType
	triggers    map[string]trigger // by event name
	canonical   string             // Parsing Canonical Form
	fingerprint uint64             // CRC-64-AVRO of canonical
}

// trigger is the data record of one event name.
type trigger struct {
	index int // branch of the data union
	typ   *avroType
}

// New returns the codec of the schema files embedded in the binary.
func New() (*Codec, error) { return NewFromFS(files) }

// NewFromFS returns the codec of the schema files in fsys: webhook_event.avsc at its root,
// triggers/<Trigger>.avsc for each of Triggers, and types/*.avsc with the named types the
// triggers share.
func NewFromFS(fsys fs.FS) (*Codec, error) {
	schema, err := compose(fsys)
	if err != nil {
		return nil, fmt.Errorf("compose webhook event schema: %w", err)
	}
	cp, err := compile(string(schema))
	if err != nil {
		return nil, fmt.Errorf("webhook event schema: %w", err)
	}
	if err := checkEnvelope(cp.root); err != nil {
		return nil, err
	}
	return &Codec{schema: string(schema), compiled: cp}, nil
}

// Schema returns the composed WebhookEvent schema as compact JSON: what is registered in
// the schema registry.
func (c *Codec) Schema() string { return c.schema }

// Fingerprint returns the CRC-64-AVRO fingerprint of the schema's Parsing Canonical Form,
// the one single-object encoding puts in front of each record.
func (c *Codec) Fingerprint() uint64 { return c.fingerprint }

func compile(schema string) (*compiled, error) {
	node, err := decodeSchema([]byte(schema))
	if err != nil {
		return nil, err
	}
	root, err := buildPlan(node)
	if err != nil {
		return nil, err
	}
	canonical, err := canonicalForm(nil, node, "")
	if err != nil {
		return nil, err
	}
	avro, err := goavro.NewCodec(schema)
	if err != nil {
		return nil, err
	}
	i, ok := root.fieldIndex["data"]
	if root.kind != kindRecord || !ok || root.fields[i].typ.kind != kindUnion {
		return nil, fmt.Errorf("%s is not a webhook event: no data union", root.name)
	}
	cp := &compiled{
		avro:        avro,
		root:        root,
		triggers:    map[string]trigger{},
		canonical:   string(canonical),
		fingerprint: fingerprint64(canonical),
	}
	for i, b := range root.fields[i].typ.branches {
		if namespaceOf(b.name) != dataNamespace {
			return nil, fmt.Errorf("data branch %s is not in namespace %s", b.name, dataNamespace)
		}
		cp.triggers[strings.TrimPrefix(b.name, dataNamespace+".")] = trigger{index: i, typ: b}
	}
	return cp, nil
}

// checkEnvelope makes sure webhook_event.avsc has the fields appendEvent writes, in its
// order, and the data branches in the order of Triggers.
func checkEnvelope(root *avroType) error {
	branches := make([]string, len(Triggers))
	for i, t := range Triggers {
		branches[i] = dataNamespace + "." + t
	}
	want := "io.loyaltyhooks.WebhookEvent{messageId:uuid eventName:string storeCode:[null string] " +
		"createdAt:timestamp-millis data:[" + strings.Join(branches, " ") + "] " +
		"source:io.loyaltyhooks.Source{topic:string partition:int offset:long table:string op:string " +
		"lsn:[null long] txId:[null long]}}"
	if got := describe(root); got != want {
		return fmt.Errorf("%s does not have the fields the encoder writes:\n got %s\nwant %s", envelopeFile, got, want)
	}
	return nil
}
