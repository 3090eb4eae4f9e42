package config

import (
	"slices"
	"strings"
	"time"
)

// Config is the whole configuration of every loyaltyhooks command. Field tags are the config
// keys (`mapstructure`), so `kafka.brokers` is Config.Kafka.Brokers.
type Config struct {
	Kafka          Kafka          `mapstructure:"kafka"`
	Redis          Redis          `mapstructure:"redis"`
	Source         Source         `mapstructure:"source"`
	SchemaRegistry SchemaRegistry `mapstructure:"schemaRegistry"`
	Topics         Topics         `mapstructure:"topics"`
	Processor      Processor      `mapstructure:"processor"`
	Timers         Timers         `mapstructure:"timers"`
	Sender         Sender         `mapstructure:"sender"`
	Topology       Topology       `mapstructure:"topology"`
	Metrics        Metrics        `mapstructure:"metrics"`
	Log            Log            `mapstructure:"log"`

	warnings []Warning // what Load accepted but advises against; see Warnings
}

// Kafka is how to reach the cluster.
type Kafka struct {
	Brokers            []string      `mapstructure:"brokers"`
	ClientID           string        `mapstructure:"clientId"`
	SessionTimeout     time.Duration `mapstructure:"sessionTimeout"`
	RebalanceTimeout   time.Duration `mapstructure:"rebalanceTimeout"`
	TransactionTimeout time.Duration `mapstructure:"transactionTimeout"`
	SASL               SASL          `mapstructure:"sasl"`
	TLS                TLS           `mapstructure:"tls"`
}

// SASL authenticates to a secured cluster.
type SASL struct {
	Mechanism string `mapstructure:"mechanism"` // "", PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	Username  string `mapstructure:"username"`
	Password  string `mapstructure:"password" secret:"true"`
	// PasswordFile holds the password instead (a mounted Kubernetes Secret); it is read again
	// for every new connection, so a rotated password needs no restart.
	PasswordFile string `mapstructure:"passwordFile"`
}

// TLS encrypts connections to the cluster.
type TLS struct {
	Enabled  bool   `mapstructure:"enabled"`
	CAFile   string `mapstructure:"caFile"`
	CertFile string `mapstructure:"certFile"`
	KeyFile  string `mapstructure:"keyFile"`
	// ServerName is the name the brokers' certificates must hold, when it is not the host the
	// client dials (brokers reached through a tunnel or by IP address).
	ServerName string `mapstructure:"serverName"`
}

// Redis holds the lookups and, later, dedup claims and timers.
type Redis struct {
	URL       string   `mapstructure:"url" secret:"url"` // password inside the URL is redacted
	KeyPrefix string   `mapstructure:"keyPrefix"`
	TLS       RedisTLS `mapstructure:"tls"`
	// Username and Password log in as an ACL user, instead of credentials inside the URL.
	Username     string `mapstructure:"username"`
	Password     string `mapstructure:"password" secret:"true"`
	PasswordFile string `mapstructure:"passwordFile"`
}

// RedisTLS configures a rediss:// connection.
type RedisTLS struct {
	CAFile string `mapstructure:"caFile"`
}

// Source describes the Debezium change topics and how the database names things.
type Source struct {
	TopicPrefix string `mapstructure:"topicPrefix"` // Debezium topic.prefix
	Schema      string `mapstructure:"schema"`      // database schema of the tables
	Format      string `mapstructure:"format"`      // "json" or "avro"
	// Tables maps each logical table of the reference schema (CONTRACT §1) to the physical
	// table and column names of the deployment's database.
	Tables map[string]Table `mapstructure:"tables"`
}

// Table maps one logical table: its physical name and, for columns named differently, the
// physical name of each logical column. Columns not listed keep their logical name.
type Table struct {
	Name    string            `mapstructure:"name"`
	Columns map[string]string `mapstructure:"columns"`
}

// SchemaRegistry is a Confluent-compatible registry; with an empty URL the processor reads no
// Avro sources and writes Avro single-object encoding.
type SchemaRegistry struct {
	URL          string      `mapstructure:"url" secret:"url"` // a password inside the URL is redacted
	Username     string      `mapstructure:"username"`
	Password     string      `mapstructure:"password" secret:"true"`
	PasswordFile string      `mapstructure:"passwordFile"`
	TLS          RegistryTLS `mapstructure:"tls"`
}

// RegistryTLS configures an https:// registry: the CA to trust and a client certificate.
type RegistryTLS struct {
	CAFile   string `mapstructure:"caFile"`
	CertFile string `mapstructure:"certFile"`
	KeyFile  string `mapstructure:"keyFile"`
}

// Topics names the topics loyaltyhooks writes.
type Topics struct {
	Webhooks      string `mapstructure:"webhooks"`
	CDCDeadLetter string `mapstructure:"cdcDeadLetter"`
	// Timers carries due expiry timers and deferred changes back into the processor's loop.
	Timers string `mapstructure:"timers"`
	// Dead receives events whose delivery failed after the last retry tier, with their history.
	Dead string `mapstructure:"dead"`
	// RetryPrefix names the sender's retry tiers: <retryPrefix>.<delay>, e.g. loyalty.webhooks.retry.5m.
	RetryPrefix string `mapstructure:"retryPrefix"`
}

// Processor tunes the stream processor.
type Processor struct {
	Group      string `mapstructure:"group"`
	InstanceID string `mapstructure:"instanceId"` // stable per instance; the transactional.id derives from it
	// MaxPollRecords bounds one transaction's batch.
	MaxPollRecords int `mapstructure:"maxPollRecords"`
	// ShutdownTimeout is the budget for finishing the batch, committing and leaving the group.
	ShutdownTimeout time.Duration `mapstructure:"shutdownTimeout"`
	// DedupTTL is how long a claimed message id is remembered: longer than Debezium can take to
	// redeliver a change (its offset flush interval plus a connector outage).
	DedupTTL time.Duration `mapstructure:"dedupTTL"`
	// ReferenceLag is how far (records, over its partitions) the topic of a lookup table may lag
	// before the topics whose triggers need its rows stop being fetched until it catches up;
	// after an assignment they also wait until a topic lagging less has read what it had then.
	// 0 never holds a topic back.
	ReferenceLag int64 `mapstructure:"referenceLag"`
}

// Timers tunes the expiry timers (PointsWillExpire, CouponWillExpire, LevelWillExpire) and the
// deferred changes, which wait on the same timers topic for lookup rows that have not arrived.
type Timers struct {
	// NotificationDays is N, how many days before an expiry its webhook fires, for a tenant
	// whose settings row does not give expire_*_notification_days.
	NotificationDays int `mapstructure:"notificationDays"`
	// Tick is how often an instance scans the timer shards it owns.
	Tick time.Duration `mapstructure:"tick"`
	// MaxPerTick bounds the due timers one scan turns into due records; the rest wait a tick.
	MaxPerTick int `mapstructure:"maxPerTick"`
	// LateLookupDelays are the waits before the attempts of a change deferred because a lookup
	// row its events need (its member, tenant, tier, last transfer, reward, campaign) has not
	// arrived: the n-th attempt waits the n-th delay, the last repeats until the grace ends.
	LateLookupDelays []time.Duration `mapstructure:"lateLookupDelays"`
	// LateLookupGrace is the longest a change waits for its lookup rows, from its first
	// deferral; its events then go out with nulls, counted. 0 turns deferral off.
	LateLookupGrace time.Duration `mapstructure:"lateLookupGrace"`
}

// Topology sizes the topics that `loyaltyhooks topology apply` creates and grows.
type Topology struct {
	// SourcePartitions is the partition count of each change topic: the processor's parallelism.
	SourcePartitions int32 `mapstructure:"sourcePartitions"`
	// WebhookPartitions is the partition count of the webhook topic: the sender's parallelism.
	WebhookPartitions int32 `mapstructure:"webhookPartitions"`
	// WebhookRetention is how long the webhook topic keeps events for its readers.
	WebhookRetention time.Duration `mapstructure:"webhookRetention"`
	// ReplicationFactor of the topics apply creates; -1 is the broker's default.
	ReplicationFactor int16 `mapstructure:"replicationFactor"`
}

// Sender tunes the webhook sender: its consumer groups, retry tiers, SSRF allow-list, per-endpoint
// limits, and the subscriptions it has from config (besides the webhook_subscription table).
type Sender struct {
	// Group is the consumer group of the webhook topic; each retry tier's group is
	// <group>.<tier>, e.g. loyaltyhooks-sender.5m.
	Group string `mapstructure:"group"`
	// InstanceID names this instance in its Kafka client id and logs; "" means the host name.
	InstanceID string `mapstructure:"instanceId"`
	// RetryDelays are the waits before each retry, one retry tier topic per distinct delay
	// (<topics.retryPrefix>.<delay>); after the last, the event goes to topics.dead.
	RetryDelays []time.Duration `mapstructure:"retryDelays"`
	// RetryJitter lengthens each wait by up to this fraction of it, at random.
	RetryJitter float64 `mapstructure:"retryJitter"`
	// AllowedCIDRs admits destinations the SSRF guard would refuse (loopback, private, …).
	AllowedCIDRs []string `mapstructure:"allowedCIDRs"`
	// ConnectTimeout bounds name resolution, TCP connect and TLS handshake of one attempt.
	ConnectTimeout time.Duration `mapstructure:"connectTimeout"`
	// RequestTimeout bounds one attempt from start to the last byte of the response read.
	RequestTimeout time.Duration `mapstructure:"requestTimeout"`
	// MaxResponseBytes is the most of a response body read; the rest is not.
	MaxResponseBytes int64 `mapstructure:"maxResponseBytes"`
	// EndpointConcurrency caps the attempts in flight to one endpoint (scheme, host, port).
	EndpointConcurrency int `mapstructure:"endpointConcurrency"`
	// QueueTimeout is the longest a delivery waits for its turn (the previous delivery to the
	// same subscription and member, then a free slot of its endpoint) before it is handed to
	// the next retry tier, so a slow endpoint never holds the others back.
	QueueTimeout time.Duration `mapstructure:"queueTimeout"`
	// MaxInFlight bounds the records of one partition being delivered at once; beyond it the
	// partition's fetching pauses.
	MaxInFlight int `mapstructure:"maxInFlight"`
	// Breaker opens an endpoint's circuit after consecutive failures.
	Breaker Breaker `mapstructure:"breaker"`
	// DeliveredTTL is how long a delivered (subscription, messageId) is remembered in Redis, so
	// a re-read after a crash does not send it again.
	DeliveredTTL time.Duration `mapstructure:"deliveredTTL"`
	// CommitInterval is how often delivered offsets are committed.
	CommitInterval time.Duration `mapstructure:"commitInterval"`
	// ShutdownTimeout is the budget on SIGTERM for finishing deliveries in flight and committing.
	ShutdownTimeout time.Duration `mapstructure:"shutdownTimeout"`
	// Subscriptions are endpoints configured here rather than in the webhook_subscription table.
	Subscriptions []Subscription `mapstructure:"subscriptions"`
}

// Breaker configures the per-endpoint circuit breaker.
type Breaker struct {
	// Failures is how many consecutive failed attempts open the circuit.
	Failures int `mapstructure:"failures"`
	// OpenFor is how long an open circuit refuses attempts before one probe is let through.
	OpenFor time.Duration `mapstructure:"openFor"`
}

// Subscription is one endpoint that receives webhooks, configured in the file.
type Subscription struct {
	// ID names the subscription in metrics, logs, retry records and Redis keys; unique.
	ID string `mapstructure:"id"`
	// URL receives the POSTs; http or https. A password in it is redacted when printed.
	URL string `mapstructure:"url" secret:"url"`
	// StoreCode limits the subscription to one store; "" means every store.
	StoreCode string `mapstructure:"storeCode"`
	// EventNames limits it to these triggers; empty means every trigger.
	EventNames []string `mapstructure:"eventNames"`
	// Headers are sent with every request; their values are redacted when printed.
	Headers []Header `mapstructure:"headers"`
	// Secrets sign each request per Standard Webhooks (whsec_<base64>); several during a key
	// rotation, each giving one signature. Empty means unsigned.
	Secrets []string `mapstructure:"secrets" secret:"true"`
	// SecretsFile holds the secrets instead, one a line (a mounted Kubernetes Secret).
	SecretsFile string `mapstructure:"secretsFile"`
}

// Header is one custom HTTP header of a subscription.
type Header struct {
	Name  string `mapstructure:"name"`
	Value string `mapstructure:"value" secret:"true"`
	// ValueFile holds the value instead (a mounted Kubernetes Secret).
	ValueFile string `mapstructure:"valueFile"`
}

// Metrics serves /metrics, /healthz and /readyz.
type Metrics struct {
	Addr string `mapstructure:"addr"`
}

// Log configures log/slog.
type Log struct {
	Level  string `mapstructure:"level"`  // debug, info, warn, error
	Format string `mapstructure:"format"` // json or text
}

// Source formats.
const (
	FormatJSON = "json"
	FormatAvro = "avro"
)

// LogicalTables are the tables of the reference schema, in the order CONTRACT §1 lists them.
var LogicalTables = []string{
	"tenant", "settings", "tier", "member", "member_code", "transaction", "wallet",
	"unit_transfer", "reward", "issued_reward", "campaign", "campaign_effect_result",
	"webhook_subscription",
}

// PhysicalTable returns the physical name of a logical table.
func (s Source) PhysicalTable(logical string) string {
	if t, ok := s.Tables[logical]; ok && t.Name != "" {
		return t.Name
	}
	return logical
}

// Topic returns the Debezium topic of a logical table: <topicPrefix>.<schema>.<physical table>.
func (s Source) Topic(logical string) string {
	return s.TopicPrefix + "." + s.Schema + "." + s.PhysicalTable(logical)
}

// Retry returns the topic of the retry tier that waits delay: <retryPrefix>.<delay>, the delay
// written as briefly as it reads (5s, 5m, 2h, 1h30m, 1.5s).
func (t Topics) Retry(delay time.Duration) string {
	return t.RetryPrefix + "." + TierName(delay)
}

// TierName is how a retry delay appears in topic and group names: 5m rather than 5m0s.
func TierName(delay time.Duration) string {
	s := delay.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Tiers returns the distinct retry delays, shortest first: one retry tier topic each.
func (s Sender) Tiers() []time.Duration {
	tiers := slices.Clone(s.RetryDelays)
	slices.Sort(tiers)
	return slices.Compact(tiers)
}
