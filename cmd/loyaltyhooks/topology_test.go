package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// The topology commands as an operator runs them: describe, apply, check; then a declaration
// that grew, which check reports and apply fixes with a warning about keys.
func TestTopologyCommands(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	t.Setenv("LOYALTYHOOKS_KAFKA_BROKERS", strings.Join(cluster.ListenAddrs(), ","))
	t.Setenv("LOYALTYHOOKS_LOG_LEVEL", "error")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var out bytes.Buffer
	if err := runCLI(ctx, &out, "topology", "describe", "--output", "json"); err != nil {
		t.Fatalf("describe: %v", err)
	}
	var described struct {
		Topics []struct {
			Name       string `json:"name"`
			Partitions int32  `json:"partitions"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(out.Bytes(), &described); err != nil || len(described.Topics) == 0 {
		t.Fatalf("describe --output json printed %q: %v", out.String(), err)
	}
	if err := runCLI(ctx, &bytes.Buffer{}, "topology", "describe", "--output", "yaml"); err == nil {
		t.Error("describe --output yaml: no error")
	}

	out.Reset()
	if err := runCLI(ctx, &out, "topology", "check"); err == nil || !strings.Contains(err.Error(), "difference") {
		t.Fatalf("check before apply = %v, want differences", err)
	}
	if got := strings.Count(out.String(), "missing"); got != len(described.Topics) {
		t.Errorf("check before apply printed %d missing topics, want %d:\n%s", got, len(described.Topics), out.String())
	}

	out.Reset()
	if err := runCLI(ctx, &out, "topology", "apply", "--dry-run"); err != nil {
		t.Fatalf("apply --dry-run: %v", err)
	}
	if got := strings.Count(out.String(), "would create"); got != len(described.Topics) {
		t.Errorf("dry run printed %d creates, want %d:\n%s", got, len(described.Topics), out.String())
	}
	for range 2 {
		out.Reset()
		if err := runCLI(ctx, &out, "topology", "apply"); err != nil {
			t.Fatalf("apply: %v", err)
		}
	}
	if !strings.Contains(out.String(), "nothing to do") {
		t.Errorf("second apply printed %q, want nothing to do", out.String())
	}
	out.Reset()
	if err := runCLI(ctx, &out, "topology", "check"); err != nil {
		t.Fatalf("check after apply: %v\n%s", err, out.String())
	}

	t.Setenv("LOYALTYHOOKS_TOPOLOGY_WEBHOOKPARTITIONS", "12")
	out.Reset()
	if err := runCLI(ctx, &out, "topology", "check"); err == nil || !strings.Contains(out.String(), "loyalty.webhooks: partitions is 6, want 12") {
		t.Fatalf("check after the declaration grew = %v\n%s", err, out.String())
	}
	out.Reset()
	if err := runCLI(ctx, &out, "topology", "apply"); err != nil {
		t.Fatalf("apply growing: %v", err)
	}
	if !strings.Contains(out.String(), "grow loyalty.webhooks from 6 to 12 partitions — warning: records are keyed by member id") {
		t.Errorf("apply printed %q, want a grow with a warning about keys", out.String())
	}
	if err := runCLI(ctx, &bytes.Buffer{}, "topology", "check"); err != nil {
		t.Errorf("check after growing: %v", err)
	}
}
