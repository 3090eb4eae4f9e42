package topology

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// What a Difference is about.
const (
	Missing    = "missing"
	Partitions = "partitions"
	Cleanup    = "cleanup.policy"
	Retention  = "retention.ms"
)

// Difference is one way the live cluster differs from the declared topology.
type Difference struct {
	Topic string `json:"topic"`
	What  string `json:"what"` // Missing, Partitions, Cleanup or Retention
	Want  string `json:"want"`
	Have  string `json:"have"`
}

func (d Difference) String() string {
	if d.What == Missing {
		return fmt.Sprintf("%s: missing (want %s partitions)", d.Topic, d.Want)
	}
	return fmt.Sprintf("%s: %s is %s, want %s", d.Topic, d.What, d.Have, d.Want)
}

// Compare lists every difference between t and the cluster, in the order of t's topics:
// missing topics, partition counts other than declared, and declared configs (cleanup.policy;
// retention.ms where the topic declares one) set otherwise.
func Compare(ctx context.Context, adm *kadm.Client, t Topology) ([]Difference, error) {
	live, err := listTopics(ctx, adm, t)
	if err != nil {
		return nil, err
	}
	var existing []string
	for _, tp := range t.Topics {
		if d, ok := live[tp.Name]; ok && d.Err == nil {
			existing = append(existing, tp.Name)
		}
	}
	configs := map[string]map[string]string{}
	if len(existing) > 0 {
		rcs, err := adm.DescribeTopicConfigs(ctx, existing...)
		if err != nil {
			return nil, fmt.Errorf("describe topic configs: %w", err)
		}
		for _, rc := range rcs {
			if rc.Err != nil {
				return nil, fmt.Errorf("describe configs of %s: %w", rc.Name, rc.Err)
			}
			configs[rc.Name] = map[string]string{}
			for _, c := range rc.Configs {
				configs[rc.Name][c.Key] = c.MaybeValue()
			}
		}
	}
	var diffs []Difference
	for _, tp := range t.Topics {
		d, ok := live[tp.Name]
		if !ok || d.Err != nil {
			diffs = append(diffs, Difference{Topic: tp.Name, What: Missing, Want: itoa(tp.Partitions)})
			continue
		}
		if have := int32(len(d.Partitions)); have != tp.Partitions {
			diffs = append(diffs, Difference{Topic: tp.Name, What: Partitions, Want: itoa(tp.Partitions), Have: itoa(have)})
		}
		for key, want := range tp.configs() {
			if have := configs[tp.Name][key]; !sameConfig(key, have, *want) {
				diffs = append(diffs, Difference{Topic: tp.Name, What: key, Want: *want, Have: have})
			}
		}
	}
	sortConfigDiffs(diffs)
	return diffs, nil
}

// listTopics validates t and describes its topics as the cluster has them.
func listTopics(ctx context.Context, adm *kadm.Client, t Topology) (kadm.TopicDetails, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(t.Topics))
	for _, tp := range t.Topics {
		names = append(names, tp.Name)
	}
	// A fresh metadata request: the client's metadata cache would still show a topic as missing,
	// or at its old size, for seconds after Apply created or grew it.
	live, err := adm.ListTopics(kadm.WithAuthorizedOps(ctx), names...)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	return live, nil
}

// configs are the topic configs the declaration manages.
func (tp Topic) configs() map[string]*string {
	m := map[string]*string{Cleanup: &tp.CleanupPolicy}
	if tp.Retention > 0 {
		ms := strconv.FormatInt(tp.Retention.Milliseconds(), 10)
		m[Retention] = &ms
	}
	return m
}

// sameConfig compares config values; a cleanup policy is a set, "delete,compact" equals
// "compact,delete".
func sameConfig(key, a, b string) bool {
	if key != Cleanup {
		return a == b
	}
	split := func(s string) []string {
		parts := strings.Split(strings.ReplaceAll(s, " ", ""), ",")
		slices.Sort(parts)
		return parts
	}
	return slices.Equal(split(a), split(b))
}

// sortConfigDiffs orders the config differences of one topic by key, as maps give them in
// any order; topics keep their declared order.
func sortConfigDiffs(diffs []Difference) {
	sort.SliceStable(diffs, func(i, j int) bool {
		return diffs[i].Topic == diffs[j].Topic && diffs[i].What < diffs[j].What
	})
}

// Action is what Apply did, or in a dry run would do, about one difference.
type Action struct {
	Difference
	Do      string `json:"do"` // "create", "grow", "alter" or "none"
	Warning string `json:"warning,omitempty"`
}

func (a Action) String() string {
	var s string
	switch a.Do {
	case "create":
		s = fmt.Sprintf("create %s with %s partitions", a.Topic, a.Want)
	case "grow":
		s = fmt.Sprintf("grow %s from %s to %s partitions", a.Topic, a.Have, a.Want)
	case "alter":
		s = fmt.Sprintf("set %s of %s from %q to %q", a.What, a.Topic, a.Have, a.Want)
	default:
		s = "leave " + a.Difference.String()
	}
	if a.Warning != "" {
		s += " — warning: " + a.Warning
	}
	return s
}

// Apply makes the cluster match t as far as it safely can: it creates missing topics (with
// t.ReplicationFactor and the declared configs), grows partition counts, and sets declared
// configs. It never shrinks or deletes a topic: a topic with more partitions than declared is
// left, with a warning. Growing a keyed topic also carries a warning, as it remaps keys to
// partitions. With dryRun nothing is changed. Applying twice changes nothing the second time.
func Apply(ctx context.Context, adm *kadm.Client, t Topology, dryRun bool) ([]Action, error) {
	diffs, err := Compare(ctx, adm, t)
	if err != nil {
		return nil, err
	}
	actions := make([]Action, 0, len(diffs))
	for _, d := range diffs {
		tp, _ := t.topic(d.Topic)
		a := plan(tp, d)
		if !dryRun {
			if err := do(ctx, adm, t, tp, a); err != nil {
				return actions, err
			}
		}
		actions = append(actions, a)
	}
	return actions, nil
}

func plan(tp Topic, d Difference) Action {
	a := Action{Difference: d}
	switch d.What {
	case Missing:
		a.Do = "create"
	case Partitions:
		want, _ := strconv.Atoi(d.Want)
		have, _ := strconv.Atoi(d.Have)
		switch {
		case want < have:
			a.Do = "none"
			a.Warning = "partitions are never removed; declare " + d.Have + " or accept the difference"
		case tp.Keyed():
			a.Do = "grow"
			a.Warning = fmt.Sprintf("records are keyed by %s: after growing, a key's new records may go to another partition than its earlier ones, so per-key order holds only if the topic was drained first", tp.Key)
		default:
			a.Do = "grow"
		}
	default:
		a.Do = "alter"
	}
	return a
}

func do(ctx context.Context, adm *kadm.Client, t Topology, tp Topic, a Action) error {
	switch a.Do {
	case "create":
		resp, err := adm.CreateTopic(ctx, tp.Partitions, t.ReplicationFactor, tp.configs(), tp.Name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", tp.Name, err)
		}
	case "grow":
		resps, err := adm.UpdatePartitions(ctx, int(tp.Partitions), tp.Name)
		if err == nil {
			err = resps.Error()
		}
		if err != nil {
			return fmt.Errorf("grow topic %s to %d partitions: %w", tp.Name, tp.Partitions, err)
		}
	case "alter":
		want := a.Want
		resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: a.What, Value: &want}}, tp.Name)
		if err == nil {
			err = firstAlterErr(resps)
		}
		if err != nil {
			return fmt.Errorf("set %s of topic %s: %w", a.What, tp.Name, err)
		}
	}
	return nil
}

func firstAlterErr(resps kadm.AlterConfigsResponses) error {
	for _, r := range resps {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// CreateMissing creates the topics of t that the cluster lacks and returns their names, sorted.
// Existing topics are left as they are, whatever their partitions and configs; it needs no right
// to describe topic configs.
func CreateMissing(ctx context.Context, adm *kadm.Client, t Topology) ([]string, error) {
	live, err := listTopics(ctx, adm, t)
	if err != nil {
		return nil, err
	}
	var created []string
	for _, tp := range t.Topics {
		if d, ok := live[tp.Name]; ok && d.Err == nil {
			continue
		}
		if err := do(ctx, adm, t, tp, Action{Do: "create"}); err != nil {
			return created, err
		}
		created = append(created, tp.Name)
	}
	sort.Strings(created)
	return created, nil
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }
