package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// validConfig is Defaults with what Load would add.
func validConfig() Config {
	c := Defaults()
	c.Processor.InstanceID = "host-1"
	return c
}

// problemsOf splits a Validate error into its problems.
func problemsOf(err error) []string {
	if err == nil {
		return nil
	}
	var lines []string
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			lines = append(lines, e.Error())
		}
		return lines
	}
	return []string{err.Error()}
}

func tempFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, []byte("-----BEGIN CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestValidConfigs(t *testing.T) {
	ca := tempFile(t)
	cases := map[string]func(*Config){
		"defaults":       func(*Config) {},
		"rediss with CA": func(c *Config) { c.Redis.URL = "rediss://u:p@redis:6380/1"; c.Redis.TLS.CAFile = ca },
		"unix socket":    func(c *Config) { c.Redis.URL = "unix:///run/redis.sock" },
		"cluster URL":    func(c *Config) { c.Redis.URL = "redis://h1:6379?addr=h2:6379&addr=h3:6379" },
		"password only":  func(c *Config) { c.Redis.URL = "redis://:pw@h:6379/0" },
		"avro with registry": func(c *Config) {
			c.Source.Format = FormatAvro
			c.SchemaRegistry.URL = "https://registry:8081"
		},
		"secured kafka": func(c *Config) {
			c.Kafka.SASL = SASL{Mechanism: "SCRAM-SHA-512", Username: "u", Password: "p"}
			c.Kafka.TLS = TLS{Enabled: true, CAFile: ca, CertFile: ca, KeyFile: ca}
		},
		"mapped tables": func(c *Config) {
			c.Source.Tables["member"] = Table{Name: "Customers", Columns: map[string]string{"first_name": "given_name"}}
		},
		"metrics on a host": func(c *Config) { c.Metrics.Addr = "127.0.0.1:0" },
		"ipv6 broker":       func(c *Config) { c.Kafka.Brokers = []string{"[::1]:9092", "kafka-0.kafka:9093"} },
		"deferral off":      func(c *Config) { c.Timers.LateLookupGrace, c.Timers.LateLookupDelays = 0, nil },
	}
	for name, mutate := range cases {
		c := validConfig()
		mutate(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidateNamesKeyAndValue(t *testing.T) {
	ca := tempFile(t)
	missing := filepath.Join(t.TempDir(), "missing.pem")
	long := strings.Repeat("t", 250)
	cases := []struct {
		name   string
		mutate func(*Config)
		key    string // the problem starts with "<key>: "
		value  string // and shows the bad value
	}{
		{"no brokers", func(c *Config) { c.Kafka.Brokers = nil }, "kafka.brokers", "[]"},
		{"broker without port", func(c *Config) { c.Kafka.Brokers = []string{"kafka"} }, "kafka.brokers", `"kafka"`},
		{"broker without host", func(c *Config) { c.Kafka.Brokers = []string{":9092"} }, "kafka.brokers", `":9092"`},
		{"broker bad port", func(c *Config) { c.Kafka.Brokers = []string{"k:99999"} }, "kafka.brokers", `"k:99999"`},
		{"client id", func(c *Config) { c.Kafka.ClientID = "" }, "kafka.clientId", `""`},
		{"rebalance not below session", func(c *Config) { c.Kafka.RebalanceTimeout = 15 * time.Second }, "kafka.rebalanceTimeout", "15s"},
		{"rebalance zero", func(c *Config) { c.Kafka.RebalanceTimeout = 0 }, "kafka.rebalanceTimeout", "0s"},
		{"transaction timeout", func(c *Config) { c.Kafka.TransactionTimeout = -time.Second }, "kafka.transactionTimeout", "-1s"},
		{"sasl mechanism", func(c *Config) { c.Kafka.SASL.Mechanism = "GSSAPI" }, "kafka.sasl.mechanism", `"GSSAPI"`},
		{"sasl username", func(c *Config) { c.Kafka.SASL = SASL{Mechanism: "PLAIN", Password: "p"} }, "kafka.sasl.username", `""`},
		{"sasl password", func(c *Config) { c.Kafka.SASL = SASL{Mechanism: "PLAIN", Username: "u"} }, "kafka.sasl.password", `""`},
		{"sasl without mechanism", func(c *Config) { c.Kafka.SASL.Username = "u" }, "kafka.sasl.mechanism", `""`},
		{"tls CA missing", func(c *Config) { c.Kafka.TLS = TLS{Enabled: true, CAFile: missing} }, "kafka.tls.caFile", missing},
		{"tls CA is a directory", func(c *Config) { c.Kafka.TLS = TLS{Enabled: true, CAFile: filepath.Dir(ca)} }, "kafka.tls.caFile", filepath.Dir(ca)},
		{"tls file but disabled", func(c *Config) { c.Kafka.TLS.CAFile = ca }, "kafka.tls.caFile", ca},
		{"tls cert without key", func(c *Config) { c.Kafka.TLS = TLS{Enabled: true, CertFile: ca} }, "kafka.tls.certFile", ca},
		{"redis scheme", func(c *Config) { c.Redis.URL = "http://redis:6379" }, "redis.url", `"http://redis:6379"`},
		{"redis database", func(c *Config) { c.Redis.URL = "redis://redis:6379/first" }, "redis.url", `"redis://redis:6379/first"`},
		{"redis CA without rediss", func(c *Config) { c.Redis.TLS.CAFile = ca }, "redis.tls.caFile", ca},
		{"redis CA missing", func(c *Config) { c.Redis.URL = "rediss://redis:6380"; c.Redis.TLS.CAFile = missing }, "redis.tls.caFile", missing},
		{"topic prefix", func(c *Config) { c.Source.TopicPrefix = "my prefix" }, "source.topicPrefix", `"my prefix"`},
		{"topic prefix too long", func(c *Config) { c.Source.TopicPrefix = long[:240] }, "source.topicPrefix", long[:240]},
		{"schema", func(c *Config) { c.Source.Schema = "1public" }, "source.schema", `"1public"`},
		{"format", func(c *Config) { c.Source.Format = "xml" }, "source.format", `"xml" is not one of json, avro`},
		{"avro needs registry", func(c *Config) { c.Source.Format = FormatAvro }, "schemaRegistry.url", `""`},
		{"registry scheme", func(c *Config) { c.SchemaRegistry.URL = "ftp://registry" }, "schemaRegistry.url", `"ftp://registry"`},
		{"registry without host", func(c *Config) { c.SchemaRegistry.URL = "http://" }, "schemaRegistry.url", `"http://"`},
		{"unknown table", func(c *Config) { c.Source.Tables["members"] = Table{Name: "members"} }, "source.tables.members", `"members"`},
		{"empty table name", func(c *Config) { c.Source.Tables["member"] = Table{} }, "source.tables.member.name", `""`},
		{"table name", func(c *Config) { c.Source.Tables["tier"] = Table{Name: "tier-s"} }, "source.tables.tier.name", `"tier-s"`},
		{"column key", func(c *Config) {
			c.Source.Tables["member"] = Table{Name: "member", Columns: map[string]string{"9x": "x"}}
		}, "source.tables.member.columns", `"9x"`},
		{"column name", func(c *Config) {
			c.Source.Tables["member"] = Table{Name: "member", Columns: map[string]string{"email": "e mail"}}
		}, "source.tables.member.columns.email", `"e mail"`},
		{"webhooks topic chars", func(c *Config) { c.Topics.Webhooks = "hooks!" }, "topics.webhooks", `"hooks!"`},
		{"webhooks topic length", func(c *Config) { c.Topics.Webhooks = long }, "topics.webhooks", long},
		{"dead letter topic", func(c *Config) { c.Topics.CDCDeadLetter = ".." }, "topics.cdcDeadLetter", `".."`},
		{"empty topic", func(c *Config) { c.Topics.CDCDeadLetter = "" }, "topics.cdcDeadLetter", `""`},
		{"group", func(c *Config) { c.Processor.Group = "" }, "processor.group", `""`},
		{"instance id", func(c *Config) { c.Processor.InstanceID = "" }, "processor.instanceId", `""`},
		{"max poll records", func(c *Config) { c.Processor.MaxPollRecords = 0 }, "processor.maxPollRecords", "0"},
		{"shutdown timeout", func(c *Config) { c.Processor.ShutdownTimeout = 0 }, "processor.shutdownTimeout", "0s"},
		{"late lookup grace", func(c *Config) { c.Timers.LateLookupGrace = -time.Second }, "timers.lateLookupGrace", "-1s"},
		{"late lookup delay", func(c *Config) { c.Timers.LateLookupDelays[1] = 0 }, "timers.lateLookupDelays[1]", "0s"},
		{"late lookup delays", func(c *Config) { c.Timers.LateLookupDelays = nil }, "timers.lateLookupDelays", "30s"},
		{"metrics addr", func(c *Config) { c.Metrics.Addr = "9464" }, "metrics.addr", `"9464"`},
		{"metrics port", func(c *Config) { c.Metrics.Addr = ":metrics" }, "metrics.addr", `":metrics"`},
		{"log level", func(c *Config) { c.Log.Level = "verbose" }, "log.level", `"verbose"`},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, "log.format", `"xml"`},
	}
	for _, tc := range cases {
		c := validConfig()
		tc.mutate(&c)
		problems := problemsOf(c.Validate())
		if len(problems) != 1 {
			t.Errorf("%s: want one problem, got %q", tc.name, problems)
			continue
		}
		if p := problems[0]; !strings.HasPrefix(p, tc.key+": ") || !strings.Contains(p, tc.value) {
			t.Errorf("%s: problem %q does not start with %q and show %q", tc.name, p, tc.key+": ", tc.value)
		}
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := validConfig()
	c.Source.Format = "xml"
	c.Log.Level = "loud"
	c.Kafka.Brokers = []string{"a", "b:1", "c"}
	err := c.Validate()
	problems := problemsOf(err)
	if len(problems) != 4 {
		t.Fatalf("want 4 problems, got %q", problems)
	}
	if !strings.Contains(err.Error(), `"a"`) || !strings.Contains(err.Error(), `"c"`) {
		t.Errorf("each bad broker should be named: %v", err)
	}
}

func TestValidateKeepsSecretsOut(t *testing.T) {
	c := validConfig()
	c.Redis.URL = "redis://user:redis-s3cret@redis:6379/first"
	c.SchemaRegistry.URL = "ftp://reg:registry-s3cret@registry"
	c.Kafka.SASL = SASL{Mechanism: "OAUTHBEARER", Username: "u", Password: "sasl-s3cret"}
	err := c.Validate()
	if len(problemsOf(err)) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a secret leaked into %q", err)
	}
	for _, want := range []string{"redis://user:[redacted]@redis:6379/first", "ftp://reg:[redacted]@registry"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not show %q", err, want)
		}
	}

	// A URL too broken to parse must not show its password either.
	c = validConfig()
	c.Redis.URL = "redis://user:p@ss%zz@redis:6379"
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "p@ss") {
		t.Errorf("unparseable URL: %v", err)
	}
}

func TestValidateIsJoined(t *testing.T) {
	c := validConfig()
	c.Log.Format = "xml"
	var joined interface{ Unwrap() []error }
	if err := c.Validate(); !errors.As(err, &joined) {
		t.Errorf("Validate error %T is not an errors.Join", err)
	}
}
