package topology

import (
	"errors"
	"fmt"
	"slices"
	"time"

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
	Key           string // what the record key is; "" for an unkeyed topic
	CleanupPolicy string // "delete", "compact" or "compact,delete"
	// Retention is the topic's retention.ms; 0 leaves it to the broker's default.
	Retention time.Duration
	Table     string // the logical source table, for change topics
	Writers   []string
	Readers   []string
}

// Keyed reports whether records are placed on partitions by key, so that growing the topic
// sends a key's later records to another partition than its earlier ones.
func (tp Topic) Keyed() bool { return tp.Key != "" }

// Topology is every topic, sources first.
type Topology struct {
	Topics []Topic
	// ReplicationFactor of the topics Apply creates; -1 is the broker's default.
	ReplicationFactor int16
}

// Partition counts and retentions that no setting changes.
const (
	DeadPartitions      = 1
	DeadLetterRetention = 30 * 24 * time.Hour
	// TimerPartitions spreads the scans of the timer shards over up to this many instances.
	TimerPartitions = 6
	// TimerRetention keeps due records longer than any outage the processor may take: a due
	// record is written only once its timer is gone from Redis.
	TimerRetention = 30 * 24 * time.Hour
)

// FromConfig builds the topology a configuration implies.
func FromConfig(c config.Config) Topology {
	t := Topology{ReplicationFactor: c.Topology.ReplicationFactor}
	for _, table := range config.LogicalTables {
		readers, cleanup := []string{Processor}, "delete"
		switch table {
		// Every sender reads these from the start to know the subscriptions and the stores' codes
		// at any time: compacted, they keep the latest row of each key however old.
		case "webhook_subscription":
			readers, cleanup = []string{Sender}, "compact"
		case "tenant":
			readers, cleanup = []string{Processor, Sender}, "compact"
		}
		t.Topics = append(t.Topics, Topic{
			Name: c.Source.Topic(table), Partitions: c.Topology.SourcePartitions, Table: table,
			Key: "primary key of " + table, CleanupPolicy: cleanup,
			Writers: []string{Debezium}, Readers: readers,
		})
	}
	t.Topics = append(t.Topics,
		Topic{Name: c.Topics.Webhooks, Partitions: c.Topology.WebhookPartitions, Key: "member id",
			CleanupPolicy: "delete", Retention: c.Topology.WebhookRetention,
			Writers: []string{Processor}, Readers: []string{Sender, DataTeams}},
		Topic{Name: c.Topics.CDCDeadLetter, Partitions: DeadPartitions, Key: "original key",
			CleanupPolicy: "delete", Retention: DeadLetterRetention, Writers: []string{Processor}},
		// Due timers are placed by timer shard, not by key, so growing the topic reorders
		// nothing; partitions beyond the shard count (64) would own no shard.
		Topic{Name: c.Topics.Timers, Partitions: TimerPartitions, CleanupPolicy: "delete",
			Retention: TimerRetention, Writers: []string{Processor}, Readers: []string{Processor}},
	)
	t.Topics = append(t.Topics, senderTopics(c)...)
	return t
}

// The sender's retry tiers. They carry failed deliveries only, so their partition count does
// not follow the webhook topic's. A tier keeps its records well beyond its delay, so a sender
// that is down for a while still finds its retries.
const (
	RetryPartitions = 6
	RetryRetention  = 7 * 24 * time.Hour
)

// senderTopics are the sender's retry tiers, one per distinct delay, keyed like the webhook
// topic so a member's retries stay in order, and its dead-letter topic.
func senderTopics(c config.Config) []Topic {
	var out []Topic
	for _, d := range c.Sender.Tiers() {
		out = append(out, Topic{Name: c.Topics.Retry(d), Partitions: RetryPartitions,
			Key: "member id", CleanupPolicy: "delete", Retention: max(RetryRetention, 4*d),
			Writers: []string{Sender}, Readers: []string{Sender}})
	}
	return append(out, Topic{Name: c.Topics.Dead, Partitions: DeadPartitions, Key: "member id",
		CleanupPolicy: "delete", Retention: DeadLetterRetention, Writers: []string{Sender}})
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

// Cleanup policies a topic may declare.
var cleanupPolicies = []string{"delete", "compact", "compact,delete"}

// Validate checks the topology before anything starts: names set and unique, partition counts
// positive, a known cleanup policy, a writer for every topic, and at least one change topic for
// the processor.
func (t Topology) Validate() error {
	seen := map[string]bool{}
	var errs []error
	for _, tp := range t.Topics {
		if tp.Name == "" {
			errs = append(errs, errors.New("topology: a topic has no name"))
			continue
		}
		if seen[tp.Name] {
			errs = append(errs, fmt.Errorf("topology: topic %q declared twice", tp.Name))
		}
		seen[tp.Name] = true
		if tp.Partitions < 1 {
			errs = append(errs, fmt.Errorf("topology: topic %q has %d partitions", tp.Name, tp.Partitions))
		}
		if !slices.Contains(cleanupPolicies, tp.CleanupPolicy) {
			errs = append(errs, fmt.Errorf("topology: topic %q has cleanup policy %q, want one of %q", tp.Name, tp.CleanupPolicy, cleanupPolicies))
		}
		if tp.Retention < 0 {
			errs = append(errs, fmt.Errorf("topology: topic %q has retention %s", tp.Name, tp.Retention))
		}
		if len(tp.Writers) == 0 {
			errs = append(errs, fmt.Errorf("topology: topic %q has no writer", tp.Name))
		}
	}
	if len(t.Sources()) == 0 {
		errs = append(errs, errors.New("topology: the processor reads no change topic"))
	}
	if t.ReplicationFactor != -1 && t.ReplicationFactor < 1 {
		errs = append(errs, fmt.Errorf("topology: replication factor %d, want -1 or at least 1", t.ReplicationFactor))
	}
	return errors.Join(errs...)
}

// topic returns the declared topic named name.
func (t Topology) topic(name string) (Topic, bool) {
	for _, tp := range t.Topics {
		if tp.Name == name {
			return tp, true
		}
	}
	return Topic{}, false
}

// Components lists every component that reads or writes a topic, in order of first mention.
func (t Topology) Components() []string {
	var out []string
	for _, tp := range t.Topics {
		for _, c := range slices.Concat(tp.Writers, tp.Readers) {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}
