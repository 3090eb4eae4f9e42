package processor_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/debezium"
	"github.com/loyaltyhooks/loyaltyhooks/processor"
	"github.com/loyaltyhooks/loyaltyhooks/processor/claim"
	"github.com/loyaltyhooks/loyaltyhooks/processor/rules"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

const goldenDir = "testdata/golden"

// goldenCases are the directories under testdata/golden. Each holds snapshot.json, the lookup
// rows the case needs as Debezium snapshot reads (fed as a first batch, which must yield
// nothing), changes.json, the change records under test (the second batch), and want.json,
// the records the pipeline produced for them. Records are written as Debezium's PostgreSQL
// connector emits them with decimal.handling.mode=string through the JSON converter with
// schemas.enable=false; each is {topic, partition, offset, key, value} with key and value the
// record's JSON.
//
// events and dead list what the changes must yield in order, and facts are fragments that the
// compact JSON of some event must contain: checks of the point of a case that -update cannot
// rewrite. double says whether every decimal of the case is exactly a binary double, so that
// decimal.handling.mode=double carries it without loss; the test verifies the claim.
var goldenCases = []struct {
	dir    string
	events []string
	dead   []string // dlq-reason of each dead letter, in order
	facts  []string
	double bool
}{
	// An active member inserted with a tier: registered, and a first level (neither up nor down).
	{dir: "customer_registered", events: []string{rules.CustomerRegistered, rules.CustomerLevelChanged}, facts: []string{
		`"birthDate":"1990-12-10","registeredAt":"2026-03-02T09:14:59.873215+00:00"`,
		`"name":"Bronze","levelMoveUp":false,"levelMoveDown":false`,
	}, double: true},
	// An inactive member fires nothing; its registration code, in the same batch, finds it.
	{dir: "customer_was_registered_without_activation", events: []string{rules.CustomerWasRegisteredWithoutActivation}, facts: []string{
		`"customer":{"customerId":"5d2c3a10-7b8e-4f5a-9c1d-000000000002","email":"bob@example.com","phone":null,"loyaltyCardNumber":"LC-0002"}`,
	}, double: true},
	{dir: "customer_requested_send_activation_code", events: []string{rules.CustomerRequestedSendActivationCode}, double: true},
	// A reset link has no SMS code: codeNumber null.
	{dir: "customer_requested_password_reset", events: []string{rules.CustomerRequestedPasswordReset}, double: true},
	{dir: "customer_email_was_changed", events: []string{rules.CustomerEmailWasChanged}, double: true},
	{dir: "customer_phone_number_was_changed", events: []string{rules.CustomerPhoneNumberWasChanged}, double: true},
	// Profile changes fire; non-profile columns and __debezium_unavailable_value in before or
	// after (an unchanged TOAST value) do not.
	{dir: "customer_updated", events: []string{rules.CustomerUpdated, rules.CustomerUpdated}, double: true},
	// Silver → Gold (up), Gold → Bronze (down), Bronze → none (a profile change only).
	{dir: "customer_level_changed", events: []string{
		rules.CustomerUpdated, rules.CustomerLevelChanged,
		rules.CustomerUpdated, rules.CustomerLevelChanged,
		rules.CustomerUpdated,
	}, facts: []string{
		`"name":"Gold","levelMoveUp":true,"levelMoveDown":false`,
		`"name":"Bronze","levelMoveUp":false,"levelMoveDown":true`,
	}, double: true},
	// Deactivation fires; reactivation does not.
	{dir: "customer_deactivated", events: []string{rules.CustomerDeactivated}, double: true},
	// A member's purchase, and a return without a member, keyed by its transaction id.
	{dir: "transaction_registered", events: []string{rules.TransactionRegistered, rules.TransactionRegistered}, facts: []string{
		`"quantity":1,"grossValue":12.5,`, `"quantity":-1,"grossValue":-12.5,`,
	}, double: true},
	// A gross value of 18 significant digits, which no double holds.
	{dir: "transaction_assigned_to_customer", events: []string{rules.TransactionAssignedToCustomer}, facts: []string{
		`"grossValue":1234567890123456.78,`,
	}},
	// 100.30 + 12.50 and 112.80 − 12.70: exact, never 12.499999…; 100.10 → 100.100 is no change.
	// A new wallet with units (its transfer, which references it, comes after it) fires; an
	// empty new wallet does not.
	{dir: "available_points_amount_changed", events: []string{
		rules.AvailablePointsAmountChanged, rules.AvailablePointsAmountChanged, rules.AvailablePointsAmountChanged,
	}, facts: []string{
		`"amount":112.8,"amountChange":12.5,"amountChangeType":"add"`,
		`"amount":100.1,"amountChange":12.7,"amountChangeType":"subtract"`,
		`"amount":5,"amountChange":5,"amountChangeType":"add"`,
	}},
	// One P2P transfer, two wallet events: p2p_subtract for the sender, p2p_add for the receiver.
	{dir: "available_points_p2p", events: []string{rules.AvailablePointsAmountChanged, rules.AvailablePointsAmountChanged}, facts: []string{
		`"amount":164.25,"amountChange":35.75,"amountChangeType":"p2p_subtract"`,
		`"amount":46,"amountChange":35.75,"amountChangeType":"p2p_add"`,
	}, double: true},
	// A material reward shipped, a coupon used; an edit of the comment alone fires nothing.
	{dir: "reward_redemption_status_changed", events: []string{rules.RewardRedemptionStatusChanged, rules.RewardRedemptionStatusChanged}},
	// A reward with a coupon and one without (coupon null).
	{dir: "customer_bought_reward", events: []string{rules.CustomerBoughtReward, rules.CustomerBoughtReward}},
	// An insert with success fires, one with skipped does not, its update to success does.
	{dir: "campaign_effect_was_applied", events: []string{rules.CampaignEffectWasApplied, rules.CampaignEffectWasApplied}, double: true},
	// No snapshot at all: unknown tenant, member, tiers, transfers, reward and campaign give
	// nulls (and the issued reward's own name), never a failure.
	{dir: "lookups_missing", events: []string{
		rules.CustomerRequestedPasswordReset, rules.CustomerUpdated, rules.CustomerLevelChanged,
		rules.AvailablePointsAmountChanged, rules.CustomerBoughtReward, rules.TransactionAssignedToCustomer,
		rules.CampaignEffectWasApplied,
	}, facts: []string{
		`"storeCode":null`,
		`"customerId":"5d2c3a10-7b8e-4f5a-9c1d-000000000003","email":null,"phone":null,"loyaltyCardNumber":null`,
		`"name":null,"levelMoveUp":false,"levelMoveDown":false`,
		`"rewardName":"Cinema ticket","rewardType":"static_coupon"`,
		`"name":null,"triggerType":null,"trigger":null`,
	}},
	// Snapshot reads of rows that would fire as inserts, a logical decoding message, deletes
	// with their tombstones and a truncate: nothing.
	{dir: "no_trigger_ops", double: true},
	// A transaction whose items are not an array is dead-lettered; the next one goes through.
	{dir: "dead_letter_rule_failed", events: []string{rules.TransactionRegistered}, dead: []string{processor.ReasonRuleFailed}, double: true},
	// A pending transfer released with its action_cause unavailable (an unchanged TOAST value):
	// the wallet event still carries the cause the processor saw in the snapshot.
	{dir: "unavailable_lookup_row", events: []string{rules.AvailablePointsAmountChanged}, facts: []string{
		`"actionCause":{"campaignId":"4c000000-0000-4000-8000-000000000001"`,
	}, double: true},
}

// sourceFormat is one way the change records reach the processor.
type sourceFormat struct {
	name    string
	fixture bool // the fixture as written; else re-encoded by internal/debezium
	format  debezium.Format
	decimal string
}

// sourceFormats are every source format and decimal mode the processor reads. The fixture comes
// first: with -update its output is what the golden files become.
var sourceFormats = []sourceFormat{
	{name: "json", fixture: true},
	{name: "json+schema/string", format: debezium.JSONWithSchema, decimal: debezium.DecimalString},
	{name: "json+schema/double", format: debezium.JSONWithSchema, decimal: debezium.DecimalDouble},
	{name: "json+schema/precise", format: debezium.JSONWithSchema, decimal: debezium.DecimalPrecise},
	{name: "avro/string", format: debezium.Avro, decimal: debezium.DecimalString},
	{name: "avro/precise", format: debezium.Avro, decimal: debezium.DecimalPrecise},
}

// TestGoldenPipeline runs every case through the whole pipeline in every source format and
// decimal mode, and requires the same records, the case's want.json, from all of them.
func TestGoldenPipeline(t *testing.T) {
	checkGoldenCoverage(t)
	env := newGoldenEnv(t)
	for _, gc := range goldenCases {
		t.Run(gc.dir, func(t *testing.T) {
			c := loadGoldenCase(t, env, gc.dir)
			if exact := exactInDouble(c.decoded()); exact != gc.double {
				t.Fatalf("the case declares double=%v, but its decimals are %s exactly binary doubles",
					gc.double, map[bool]string{true: "all", false: "not all"}[exact])
			}
			want := filepath.Join(goldenDir, gc.dir, "want.json")
			for _, f := range sourceFormats {
				t.Run(f.name, func(t *testing.T) {
					if f.decimal == debezium.DecimalDouble && !gc.double {
						t.Skip("decimal.handling.mode=double cannot carry this case's decimals exactly")
					}
					snapshot, changes := c.records(t, env, f)
					out := env.process(t, env.decoder(t, f), env.writer(t), snapshot, changes)
					checkEventsAndReasons(t, out, gc.events, gc.dead)
					got, events := env.render(t, out, c, changes)
					for _, fact := range gc.facts {
						if !strings.Contains(events, fact) {
							t.Errorf("no event contains %s", fact)
						}
					}
					compareGolden(t, want, got, f.fixture && *updateGolden)
				})
			}
		})
	}
}

// TestGoldenConfluentWire writes the events of one case in the Confluent wire format through a
// registry, as the processor does when schemaRegistry.url is set, and reads them back through it.
func TestGoldenConfluentWire(t *testing.T) {
	env := newGoldenEnv(t)
	c := loadGoldenCase(t, env, "customer_registered")
	reg, client := newRegistry(t)
	var fetches atomic.Int32
	reg.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/schemas/ids/") {
			fetches.Add(1)
		}
		return false
	})
	subject := schemas.ValueSubject(env.cfg.Topics.Webhooks)
	w, err := schemas.NewWriter(context.Background(), env.codec, client, subject)
	if err != nil {
		t.Fatal(err)
	}
	registered, ok := reg.GetSchema(subject, 1)
	if !ok || registered.ID != w.SchemaID() || registered.Schema.Schema != env.codec.Schema() {
		t.Fatalf("subject %s holds %+v (found %v); the writer frames with id %d", subject, registered, ok, w.SchemaID())
	}
	fixture := sourceFormats[0]
	snapshot, changes := c.records(t, env, fixture)
	out := env.process(t, env.decoder(t, fixture), w, snapshot, changes)
	// The same events framed as single objects, to compare the decoded events with.
	single := env.process(t, env.decoder(t, fixture), env.writer(t), snapshot, changes)
	if len(out) == 0 || len(out) != len(single) {
		t.Fatalf("%d records through the registry, %d as single objects", len(out), len(single))
	}

	reader := schemas.NewReader(env.codec, client)
	var b bytes.Buffer
	b.WriteString(`{"subject":`)
	b.Write(jsonString(subject))
	fmt.Fprintf(&b, `,"schemaId":%d,"records":[`, w.SchemaID())
	for i, r := range out {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(env.confluentRecord(t, reader, w.SchemaID(), r, single[i]))
	}
	b.WriteString("]}")
	if n := fetches.Load(); n != 1 {
		t.Errorf("the reader fetched the writer schema %d times, want once", n)
	}
	compareGolden(t, filepath.Join(goldenDir, "confluent_wire.json"), indent(t, b.Bytes()), *updateGolden)
}

// confluentRecord checks the framing of a webhook record written through the registry, decodes
// it through the registry, compares the event with the same event framed as a single object,
// and renders {key, framing, event}.
func (env *goldenEnv) confluentRecord(t *testing.T, reader *schemas.Reader, id int, r, single *kgo.Record) []byte {
	t.Helper()
	if r.Topic != env.cfg.Topics.Webhooks {
		t.Fatalf("record on %s", r.Topic)
	}
	if len(r.Value) < 5 || r.Value[0] != 0 || binary.BigEndian.Uint32(r.Value[1:5]) != uint32(id) {
		t.Fatalf("record not framed with magic byte 0 and schema id %d: % x", id, r.Value[:min(len(r.Value), 8)])
	}
	if _, err := env.reader.Decode(r.Value); err == nil {
		t.Error("a Confluent-framed record decoded without a registry")
	}
	ev, err := reader.Decode(r.Value)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := env.reader.Decode(single.Value)
	if err != nil {
		t.Fatal(err)
	}
	evJSON := env.eventJSON(t, ev)
	if want := env.eventJSON(t, plain); !bytes.Equal(evJSON, want) {
		t.Errorf("through the registry:\n%s\nas a single object:\n%s", evJSON, want)
	}
	var b bytes.Buffer
	b.WriteString(`{"key":`)
	b.Write(jsonString(string(r.Key)))
	b.WriteString(`,"framing":`)
	b.Write(jsonString(hex.EncodeToString(r.Value[:1]) + " " + hex.EncodeToString(r.Value[1:5])))
	b.WriteString(`,"event":`)
	b.Write(evJSON)
	b.WriteByte('}')
	return b.Bytes()
}

// checkGoldenCoverage requires a case directory for every listed case and the reverse, and at
// least one case of every row-driven trigger.
func checkGoldenCoverage(t *testing.T) {
	t.Helper()
	entries, err := os.ReadDir(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	var dirs, listed []string
	fired := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	for _, gc := range goldenCases {
		listed = append(listed, gc.dir)
		for _, ev := range gc.events {
			fired[ev] = true
		}
	}
	slices.Sort(listed)
	if !slices.Equal(dirs, listed) {
		t.Errorf("case directories %v, listed cases %v", dirs, listed)
	}
	for _, trigger := range rules.RowTriggers() {
		if !fired[trigger] {
			t.Errorf("no golden case fires %s", trigger)
		}
	}
}

// goldenEnv is what every case shares: the configuration, the webhook codec and one registry
// per decimal mode of the Avro format (the two modes give one subject different schemas).
type goldenEnv struct {
	cfg      config.Config
	codec    *schemas.Codec
	reader   *schemas.Reader
	fixture  *cdc.Decoder
	registry map[string]*sr.Client
}

func newGoldenEnv(t *testing.T) *goldenEnv {
	t.Helper()
	cfg := config.Defaults()
	codec, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	fixture, err := cdc.NewDecoder(cfg.Source, nil)
	if err != nil {
		t.Fatal(err)
	}
	env := &goldenEnv{cfg: cfg, codec: codec, reader: schemas.NewReader(codec, nil), fixture: fixture,
		registry: map[string]*sr.Client{}}
	for _, f := range sourceFormats {
		if f.format == debezium.Avro {
			_, env.registry[f.decimal] = newRegistry(t)
		}
	}
	return env
}

func newRegistry(t *testing.T) (*srfake.Registry, *sr.Client) {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	client, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	return reg, client
}

// decoder returns a fresh decoder for the format, as a processor reading it is configured.
func (env *goldenEnv) decoder(t *testing.T, f sourceFormat) *cdc.Decoder {
	t.Helper()
	src := env.cfg.Source
	var registry *sr.Client
	if !f.fixture && f.format == debezium.Avro {
		src.Format, registry = config.FormatAvro, env.registry[f.decimal]
	}
	dec, err := cdc.NewDecoder(src, registry)
	if err != nil {
		t.Fatal(err)
	}
	return dec
}

// writer frames webhook records as single objects, as the processor does without a registry.
func (env *goldenEnv) writer(t *testing.T) processor.Encoder {
	t.Helper()
	w, err := schemas.NewWriter(context.Background(), env.codec, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// process runs a fresh pipeline without a lookup store, so its view keeps every lookup row it
// has seen: the snapshot batch feeds the lookups of the changes batch.
func (env *goldenEnv) process(t *testing.T, dec *cdc.Decoder, enc processor.Encoder, snapshot, changes []*kgo.Record) []*kgo.Record {
	t.Helper()
	p := &processor.Pipeline{Decoder: dec, Encoder: enc, Claimer: claim.EmitAll{},
		WebhookTopic: env.cfg.Topics.Webhooks, DeadTopic: env.cfg.Topics.CDCDeadLetter, Metrics: processor.NewMetrics(nil)}
	ctx := context.Background()
	out, err := p.Process(ctx, snapshot)
	if err != nil {
		t.Fatalf("snapshot batch: %v", err)
	}
	for _, r := range out {
		t.Errorf("the snapshot batch produced a record on %s: %s", r.Topic, r.Headers)
	}
	if out, err = p.Process(ctx, changes); err != nil {
		t.Fatalf("changes batch: %v", err)
	}
	return out
}

// goldenCase is one case's fixture records and the changes they decode to.
type goldenCase struct {
	snapshot, changes []fixtureRecord
}

type fixtureRecord struct {
	rec    *kgo.Record
	change *cdc.Change // nil for a tombstone
}

func (c *goldenCase) decoded() []*cdc.Change {
	var out []*cdc.Change
	for _, fr := range slices.Concat(c.snapshot, c.changes) {
		if fr.change != nil {
			out = append(out, fr.change)
		}
	}
	return out
}

// loadGoldenCase reads a case's fixtures and decodes every record, which must all be readable.
func loadGoldenCase(t *testing.T, env *goldenEnv, dir string) *goldenCase {
	t.Helper()
	c := &goldenCase{}
	for name, dst := range map[string]*[]fixtureRecord{"snapshot.json": &c.snapshot, "changes.json": &c.changes} {
		path := filepath.Join(goldenDir, dir, name)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var raw []struct {
			Topic     string          `json:"topic"`
			Partition int32           `json:"partition"`
			Offset    int64           `json:"offset"`
			Key       json.RawMessage `json:"key"`
			Value     json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, r := range raw {
			// The JSON converter writes compact JSON; compacting keeps every byte of a value.
			rec := &kgo.Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
				Key: compact(t, r.Key), Value: compact(t, r.Value)}
			ch, err := env.fixture.Decode(context.Background(), rec)
			if err != nil {
				t.Fatalf("%s: %s/%d@%d: %v", path, r.Topic, r.Partition, r.Offset, err)
			}
			if ch == nil && rec.Value != nil {
				t.Fatalf("%s: %s/%d@%d carries no change", path, r.Topic, r.Partition, r.Offset)
			}
			*dst = append(*dst, fixtureRecord{rec: rec, change: ch})
		}
	}
	return c
}

func compact(t *testing.T, raw json.RawMessage) []byte {
	t.Helper()
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// records returns the case's records in format f: the fixture as written, or each change
// re-encoded by internal/debezium, which must decode to the same change as the fixture.
func (c *goldenCase) records(t *testing.T, env *goldenEnv, f sourceFormat) (snapshot, changes []*kgo.Record) {
	t.Helper()
	if f.fixture {
		return fixtureRecords(c.snapshot), fixtureRecords(c.changes)
	}
	enc, err := debezium.NewEncoder(debezium.Options{Format: f.format, DecimalMode: f.decimal,
		Source: env.cfg.Source, Registry: env.registry[f.decimal]})
	if err != nil {
		t.Fatal(err)
	}
	dec := env.decoder(t, f)
	deleted := map[string]*cdc.Change{} // the delete each tombstone follows, by topic and key
	reencode := func(frs []fixtureRecord) []*kgo.Record {
		out := make([]*kgo.Record, 0, len(frs))
		for _, fr := range frs {
			id := fr.rec.Topic + "\x00" + string(fr.rec.Key)
			r := &kgo.Record{Topic: fr.rec.Topic, Partition: fr.rec.Partition, Offset: fr.rec.Offset}
			var (
				topic string
				err   error
			)
			if fr.change == nil {
				prev := deleted[id]
				if prev == nil {
					t.Fatalf("%s@%d: a tombstone that follows no delete", fr.rec.Topic, fr.rec.Offset)
				}
				topic, r.Key, err = enc.Tombstone(prev)
			} else {
				topic, r.Key, r.Value, err = enc.Encode(context.Background(), fr.change)
				if fr.change.Op == cdc.OpDelete {
					deleted[id] = fr.change
				}
			}
			if err != nil {
				t.Fatalf("%s@%d: %v", fr.rec.Topic, fr.rec.Offset, err)
			}
			if topic != fr.rec.Topic {
				t.Fatalf("%s@%d re-encoded for topic %s", fr.rec.Topic, fr.rec.Offset, topic)
			}
			got, err := dec.Decode(context.Background(), r)
			if err != nil {
				t.Fatalf("%s@%d re-encoded: %v", fr.rec.Topic, fr.rec.Offset, err)
			}
			if !reflect.DeepEqual(got, fr.change) {
				t.Errorf("%s@%d re-encoded decodes to\n%s\nthe fixture to\n%s", fr.rec.Topic, fr.rec.Offset,
					describeChange(got), describeChange(fr.change))
			}
			out = append(out, r)
		}
		return out
	}
	return reencode(c.snapshot), reencode(c.changes)
}

func fixtureRecords(frs []fixtureRecord) []*kgo.Record {
	out := make([]*kgo.Record, len(frs))
	for i, fr := range frs {
		r := *fr.rec // a copy: no run can alter the records the next run reads
		out[i] = &r
	}
	return out
}

func describeChange(ch *cdc.Change) string {
	if ch == nil {
		return "  <nil>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  %s %s source=%+v ts_ms=%d message=%+v\n", ch.Table, ch.Op, ch.Source, ch.TsMs, ch.Message)
	for _, part := range []struct {
		name string
		row  *cdc.Row
	}{{"key", ch.Key}, {"before", ch.Before}, {"after", ch.After}} {
		fmt.Fprintf(&b, "  %s:", part.name)
		if part.row == nil {
			b.WriteString(" <nil>")
		} else {
			for _, col := range part.row.Columns {
				fmt.Fprintf(&b, " %s=%+v", col.Name, col.Value)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// exactInDouble reports whether every decimal of the changes is exactly a binary double.
func exactInDouble(chs []*cdc.Change) bool {
	for _, ch := range chs {
		for _, row := range []*cdc.Row{ch.Key, ch.Before, ch.After} {
			if row == nil {
				continue
			}
			for _, col := range row.Columns {
				if col.Value.Kind != cdc.Decimal {
					continue
				}
				exact, ok := new(big.Rat).SetString(col.Value.Str)
				f, err := strconv.ParseFloat(col.Value.Str, 64)
				if !ok || err != nil || new(big.Rat).SetFloat64(f).Cmp(exact) != 0 {
					return false
				}
			}
		}
	}
	return true
}

// checkEventsAndReasons compares the event names and dead-letter reasons of the output with
// the case's list.
func checkEventsAndReasons(t *testing.T, out []*kgo.Record, events, dead []string) {
	t.Helper()
	var gotEvents, gotDead []string
	for _, r := range out {
		if reason := processor.Header(r, processor.HeaderDeadReason); reason != "" {
			gotDead = append(gotDead, reason)
		} else {
			gotEvents = append(gotEvents, processor.Header(r, processor.HeaderEventName))
		}
	}
	if !slices.Equal(gotEvents, events) {
		t.Errorf("events %q, want %q", gotEvents, events)
	}
	if !slices.Equal(gotDead, dead) {
		t.Errorf("dead letters %q, want %q", gotDead, dead)
	}
}

// render writes the output records as the golden JSON: per record its topic, key and headers;
// a webhook record's event decoded and rendered with AppendJSON (the subscriber's body, fields
// in schema order, decimals exact) plus its source coordinates; a dead letter's key as the
// fixture writes it, after checking that it carries the source record's own key and value.
// It also returns the compact JSON of the events, one a line.
func (env *goldenEnv) render(t *testing.T, out []*kgo.Record, c *goldenCase, in []*kgo.Record) (golden []byte, events string) {
	t.Helper()
	var b, evs bytes.Buffer
	b.WriteByte('[')
	for i, r := range out {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"topic":`)
		b.Write(jsonString(r.Topic))
		switch r.Topic {
		case env.cfg.Topics.Webhooks:
			b.WriteString(`,"key":`)
			b.Write(jsonString(string(r.Key)))
			writeHeaders(&b, r.Headers)
			ev, err := env.reader.Decode(r.Value)
			if err != nil {
				t.Fatalf("webhook record %d: %v", i, err)
			}
			evJSON := env.eventJSON(t, ev)
			b.WriteString(`,"event":`)
			b.Write(evJSON)
			evs.Write(evJSON)
			evs.WriteByte('\n')
			b.WriteString(`,"source":`)
			b.Write(schemas.AppendSourceJSON(nil, ev.Source))
		case env.cfg.Topics.CDCDeadLetter:
			b.WriteString(`,"key":`)
			b.Write(sourceRecord(t, r, c.changes, in).Key)
			writeHeaders(&b, r.Headers)
		default:
			t.Fatalf("record %d on unexpected topic %s", i, r.Topic)
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return indent(t, b.Bytes()), evs.String()
}

// sourceRecord finds the change record a dead letter came from by its headers, checks that the
// dead letter carries that record's key and value unchanged, and returns the record as the
// fixture writes it.
func sourceRecord(t *testing.T, dl *kgo.Record, fixtures []fixtureRecord, in []*kgo.Record) *kgo.Record {
	t.Helper()
	topic, offset := processor.Header(dl, processor.HeaderDeadTopic), processor.Header(dl, processor.HeaderDeadOffset)
	for i, r := range in {
		if r.Topic == topic && strconv.FormatInt(r.Offset, 10) == offset {
			if !bytes.Equal(dl.Key, r.Key) || !bytes.Equal(dl.Value, r.Value) {
				t.Errorf("dead letter of %s@%s does not carry the record's key and value", topic, offset)
			}
			return fixtures[i].rec
		}
	}
	t.Fatalf("dead letter names %s@%s, which is not a change record of the case", topic, offset)
	return nil
}

func writeHeaders(b *bytes.Buffer, hs []kgo.RecordHeader) {
	b.WriteString(`,"headers":{`)
	for i, h := range hs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(jsonString(h.Key))
		b.WriteByte(':')
		b.Write(jsonString(string(h.Value)))
	}
	b.WriteByte('}')
}

func (env *goldenEnv) eventJSON(t *testing.T, ev *schemas.Event) []byte {
	t.Helper()
	b, err := env.codec.AppendJSON(nil, ev, "")
	if err != nil {
		t.Fatalf("render %s %s: %v", ev.EventName, ev.MessageID, err)
	}
	return b
}

func jsonString(s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}

// indent pretty-prints JSON for review, keeping key order and the text of numbers.
func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("rendered invalid JSON: %v\n%s", err, b)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// compareGolden compares got with the golden file, or rewrites the file when update is set.
func compareGolden(t *testing.T, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./processor -run Golden -update to write it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gotLines, wantLines := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	line := 0
	for line < len(gotLines) && line < len(wantLines) && gotLines[line] == wantLines[line] {
		line++
	}
	at := func(lines []string) string {
		if line < len(lines) {
			return lines[line]
		}
		return "<end of file>"
	}
	t.Errorf("output differs from %s at line %d:\n got: %s\nwant: %s\n(after reviewing, go test ./processor -run Golden -update rewrites it)\nfull output:\n%s",
		path, line+1, at(gotLines), at(wantLines), got)
}
