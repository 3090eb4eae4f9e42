package config

import "time"

// Config is the whole configuration of every loyaltyhooks command. Field tags are the config
// keys (`mapstructure`), so `kafka.brokers` is Config.Kafka.Brokers.
type Config struct {
	Kafka          Kafka          `mapstructure:"kafka"`
	Redis          Redis          `mapstructure:"redis"`
	Source         Source         `mapstructure:"source"`
	SchemaRegistry SchemaRegistry `mapstructure:"schemaRegistry"`
	Topics         Topics         `mapstructure:"topics"`
	Processor      Processor      `mapstructure:"processor"`
	Metrics        Metrics        `mapstructure:"metrics"`
	Log            Log            `mapstructure:"log"`
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
}

// TLS encrypts connections to the cluster.
type TLS struct {
	Enabled  bool   `mapstructure:"enabled"`
	CAFile   string `mapstructure:"caFile"`
	CertFile string `mapstructure:"certFile"`
	KeyFile  string `mapstructure:"keyFile"`
}

// Redis holds the lookups and, later, dedup claims and timers.
type Redis struct {
	URL       string   `mapstructure:"url" secret:"url"` // password inside the URL is redacted
	KeyPrefix string   `mapstructure:"keyPrefix"`
	TLS       RedisTLS `mapstructure:"tls"`
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
	URL      string `mapstructure:"url" secret:"url"` // a password inside the URL is redacted
	Username string `mapstructure:"username"`
	Password string `mapstructure:"password" secret:"true"`
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
