package topology_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/topology"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The printed topology is a golden file in each format, so that rewiring a topic shows up in
// review. After an intended change: go test ./topology -run TestDescribe -update.
func TestDescribe(t *testing.T) {
	top := topology.FromConfig(config.Defaults())
	for _, format := range topology.Formats {
		t.Run(format, func(t *testing.T) {
			var out bytes.Buffer
			if err := top.Describe(&out, format); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "describe."+format+".golden")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("describe %s differs from %s (go test ./topology -run TestDescribe -update rewrites it):\n%s", format, golden, out.String())
			}
		})
	}
	if err := top.Describe(&bytes.Buffer{}, "yaml"); err == nil {
		t.Error("describe yaml: no error for an unknown format")
	}
}

func TestValidate(t *testing.T) {
	if err := topology.FromConfig(config.Defaults()).Validate(); err != nil {
		t.Fatalf("default topology: %v", err)
	}
	bad := topology.FromConfig(config.Defaults())
	bad.Topics[1].Name = bad.Topics[0].Name
	bad.Topics[2].Partitions = 0
	bad.Topics[3].CleanupPolicy = "forever"
	bad.Topics[4].Writers = nil
	bad.Topics[5].Retention = -time.Second
	err := bad.Validate()
	for _, want := range []string{"declared twice", "0 partitions", `cleanup policy "forever"`, "no writer", "retention -1s"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to say %q", err, want)
		}
	}
	none := topology.Topology{ReplicationFactor: -1}
	if err := none.Validate(); err == nil || !strings.Contains(err.Error(), "reads no change topic") {
		t.Errorf("empty topology: Validate() = %v", err)
	}
}

func newAdmin(t *testing.T) *kadm.Client {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func apply(t *testing.T, adm *kadm.Client, top topology.Topology, dryRun bool) []topology.Action {
	t.Helper()
	actions, err := topology.Apply(context.Background(), adm, top, dryRun)
	if err != nil {
		t.Fatal(err)
	}
	return actions
}

func compare(t *testing.T, adm *kadm.Client, top topology.Topology) []topology.Difference {
	t.Helper()
	diffs, err := topology.Compare(context.Background(), adm, top)
	if err != nil {
		t.Fatal(err)
	}
	return diffs
}

func does(actions []topology.Action) []string {
	var out []string
	for _, a := range actions {
		out = append(out, a.Do+" "+a.Topic+" "+a.What)
	}
	return out
}

// Apply creates every topic, then nothing more: a second apply and a check find no difference.
func TestApplyCreatesThenIsIdempotent(t *testing.T) {
	adm := newAdmin(t)
	top := topology.FromConfig(config.Defaults())

	if dry := apply(t, adm, top, true); len(dry) != len(top.Topics) {
		t.Fatalf("dry run planned %d actions, want a create per topic (%d): %v", len(dry), len(top.Topics), does(dry))
	}
	if diffs := compare(t, adm, top); len(diffs) != len(top.Topics) {
		t.Fatalf("after a dry run %d topics differ, want all %d still missing", len(diffs), len(top.Topics))
	}
	first := apply(t, adm, top, false)
	for _, a := range first {
		if a.Do != "create" || a.Warning != "" {
			t.Errorf("first apply: %s", a)
		}
	}
	if again := apply(t, adm, top, false); len(again) != 0 {
		t.Errorf("second apply did %v, want nothing", does(again))
	}
	if diffs := compare(t, adm, top); len(diffs) != 0 {
		t.Errorf("check after apply: %v", diffs)
	}

	details, err := adm.ListTopics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range top.Topics {
		if got := len(details[tp.Name].Partitions); got != int(tp.Partitions) {
			t.Errorf("%s has %d partitions, want %d", tp.Name, got, tp.Partitions)
		}
	}
	cfgs, err := adm.DescribeTopicConfigs(context.Background(), "loyalty.webhooks")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfgs.On("loyalty.webhooks", nil)
	if err != nil {
		t.Fatal(err)
	}
	var retention string
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" {
			retention = c.MaybeValue()
		}
	}
	if retention != "604800000" {
		t.Errorf("loyalty.webhooks retention.ms = %q, want 604800000 (7 days)", retention)
	}
}

// Growing partitions warns for keyed topics; a topic with more partitions than declared is never
// shrunk and stays a difference.
func TestApplyGrowsNeverShrinks(t *testing.T) {
	adm := newAdmin(t)
	cfg := config.Defaults()
	apply(t, adm, topology.FromConfig(cfg), false)

	cfg.Topology.SourcePartitions = 9
	grown := topology.FromConfig(cfg)
	if diffs := compare(t, adm, grown); len(diffs) != len(grown.Sources())+1 {
		t.Errorf("check found %d differences, want one per change topic (%d): %v", len(diffs), len(grown.Sources())+1, diffs)
	}
	actions := apply(t, adm, grown, false)
	if len(actions) != len(config.LogicalTables) {
		t.Fatalf("apply did %v, want a grow per change topic", does(actions))
	}
	for _, a := range actions {
		if a.Do != "grow" || a.Have != "6" || a.Want != "9" || !strings.Contains(a.Warning, "per-key order") {
			t.Errorf("action %s: want a grow from 6 to 9 warning about keys", a)
		}
	}
	if diffs := compare(t, adm, grown); len(diffs) != 0 {
		t.Errorf("after growing: %v", diffs)
	}

	cfg.Topology.SourcePartitions = 3
	shrunk := topology.FromConfig(cfg)
	actions = apply(t, adm, shrunk, false)
	for _, a := range actions {
		if a.Do != "none" || !strings.Contains(a.Warning, "never removed") {
			t.Errorf("action %s: want none with a warning", a)
		}
	}
	details, err := adm.ListTopics(context.Background(), shrunk.Sources()...)
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range details {
		if len(d.Partitions) != 9 {
			t.Errorf("%s has %d partitions after a smaller declaration, want 9 kept", name, len(d.Partitions))
		}
	}
	if diffs := compare(t, adm, shrunk); len(diffs) != len(actions) {
		t.Errorf("check: %d differences, want the %d unshrunk topics", len(diffs), len(actions))
	}
}

// A config changed on the cluster is drift; apply sets it back.
func TestApplyRestoresConfigs(t *testing.T) {
	adm := newAdmin(t)
	top := topology.FromConfig(config.Defaults())
	apply(t, adm, top, false)
	ctx := context.Background()
	day, compact := "86400000", "compact"
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: &day},
		{Op: kadm.SetConfig, Name: "cleanup.policy", Value: &compact},
	}, "loyalty.webhooks"); err != nil {
		t.Fatal(err)
	}
	diffs := compare(t, adm, top)
	want := []topology.Difference{
		{Topic: "loyalty.webhooks", What: "cleanup.policy", Want: "delete", Have: "compact"},
		{Topic: "loyalty.webhooks", What: "retention.ms", Want: "604800000", Have: day},
	}
	if !slices.Equal(diffs, want) {
		t.Fatalf("check = %v, want %v", diffs, want)
	}
	actions := apply(t, adm, top, false)
	if got := does(actions); !slices.Equal(got, []string{"alter loyalty.webhooks cleanup.policy", "alter loyalty.webhooks retention.ms"}) {
		t.Errorf("apply did %v", got)
	}
	if diffs := compare(t, adm, top); len(diffs) != 0 {
		t.Errorf("after apply: %v", diffs)
	}
}

// CreateMissing leaves existing topics alone, even when they differ.
func TestCreateMissingOnlyCreates(t *testing.T) {
	adm := newAdmin(t)
	cfg := config.Defaults()
	cfg.Topology.WebhookPartitions = 2
	ctx := context.Background()
	if _, err := topology.CreateMissing(ctx, adm, topology.FromConfig(cfg)); err != nil {
		t.Fatal(err)
	}
	cfg.Topology.WebhookPartitions = 4
	created, err := topology.CreateMissing(ctx, adm, topology.FromConfig(cfg))
	if err != nil || len(created) != 0 {
		t.Fatalf("second CreateMissing = %v, %v; want nothing created", created, err)
	}
	if diffs := compare(t, adm, topology.FromConfig(cfg)); len(diffs) != 1 || diffs[0].What != topology.Partitions {
		t.Errorf("check = %v, want the webhook topic's partitions only", diffs)
	}
}
