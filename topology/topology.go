package topology

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/loyaltyhooks/loyaltyhooks/config"
)

// Components that read and write topics.
const (
	Debezium  = "debezium"
	Processor = "processor"
	Sender    = "sender"
	DataTeams = "data teams"
)

// Topic is one topic of the topology.
type Topic struct {
	Name          string
	Partitions    int32
	Key           string // what the record key is
	CleanupPolicy string // "delete" or "compact"
	Table         string // the logical source table, for change topics
	Writers       []string
	Readers       []string
}

// Topology is every topic, sources first.
type Topology struct {
	Topics []Topic
}

// Default partition counts; parallelism is the partition count of the source topics.
const (
	SourcePartitions  = 6
	WebhookPartitions = 6
	DeadPartitions    = 1
)

// FromConfig builds the topology a configuration implies.
func FromConfig(c config.Config) Topology {
	var t Topology
	for _, table := range config.LogicalTables {
		reader := Processor
		if table == "webhook_subscription" {
			reader = Sender
		}
		t.Topics = append(t.Topics, Topic{
			Name: c.Source.Topic(table), Partitions: SourcePartitions, Table: table,
			Key: "primary key of " + table, CleanupPolicy: "delete",
			Writers: []string{Debezium}, Readers: []string{reader},
		})
	}
	t.Topics = append(t.Topics,
		Topic{Name: c.Topics.Webhooks, Partitions: WebhookPartitions, Key: "member id",
			CleanupPolicy: "delete", Writers: []string{Processor}, Readers: []string{Sender, DataTeams}},
		Topic{Name: c.Topics.CDCDeadLetter, Partitions: DeadPartitions, Key: "original key",
			CleanupPolicy: "delete", Writers: []string{Processor}},
	)
	return t
}

// Sources returns the names of the change topics the processor consumes.
func (t Topology) Sources() []string {
	var out []string
	for _, tp := range t.Topics {
		if tp.Table != "" && slices.Contains(tp.Readers, Processor) {
			out = append(out, tp.Name)
		}
	}
	return out
}

// Validate checks that topic names are set and unique and partition counts positive.
func (t Topology) Validate() error {
	seen := map[string]bool{}
	var errs []error
	for _, tp := range t.Topics {
		switch {
		case tp.Name == "":
			errs = append(errs, errors.New("topology: a topic has no name"))
		case seen[tp.Name]:
			errs = append(errs, fmt.Errorf("topology: topic %q declared twice", tp.Name))
		case tp.Partitions < 1:
			errs = append(errs, fmt.Errorf("topology: topic %q has %d partitions", tp.Name, tp.Partitions))
		}
		seen[tp.Name] = true
	}
	return errors.Join(errs...)
}

// CreateMissing creates the topics of t that the cluster lacks (replication factor: the broker
// default) and returns their names, sorted. Existing topics are left as they are.
func CreateMissing(ctx context.Context, adm *kadm.Client, t Topology) ([]string, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(t.Topics))
	for _, tp := range t.Topics {
		names = append(names, tp.Name)
	}
	existing, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	var created []string
	for _, tp := range t.Topics {
		if d, ok := existing[tp.Name]; ok && d.Err == nil {
			continue
		}
		cleanup := tp.CleanupPolicy
		resp, err := adm.CreateTopic(ctx, tp.Partitions, -1, map[string]*string{"cleanup.policy": &cleanup}, tp.Name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return created, fmt.Errorf("create topic %s: %w", tp.Name, err)
		}
		created = append(created, tp.Name)
	}
	sort.Strings(created)
	return created, nil
}
