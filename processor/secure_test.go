package processor_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
	"github.com/loyaltyhooks/loyaltyhooks/internal/debezium"
	"github.com/loyaltyhooks/loyaltyhooks/internal/logtest"
	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
	"github.com/loyaltyhooks/loyaltyhooks/internal/registrytest"
	"github.com/loyaltyhooks/loyaltyhooks/internal/tlstest"
	"github.com/loyaltyhooks/loyaltyhooks/processor"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
	"github.com/loyaltyhooks/loyaltyhooks/topology"
)

const (
	secureKafkaPassword    = "kafka-pw-3b7d"
	secureRedisPassword    = "redis-pw-e21f"
	secureRegistryPassword = "registry-pw-64aa"
	secureWrongPassword    = "wrong-pw-9c10"
)

// TestProcessorOnSecuredServices runs the processor against a broker that takes only TLS with a
// client certificate and a SCRAM login, a redis-server that takes only TLS and an ACL user, and a
// registry behind TLS and basic auth. It starts with a wrong Kafka password in the password
// file: the processor must say which broker refused which login and keep retrying, and pick up
// the fixed file without a restart. No log line may show a secret.
func TestProcessorOnSecuredServices(t *testing.T) {
	ca := tlstest.NewCA(t, "loyalty")
	client := ca.Issue("loyaltyhooks")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "loyalty", secureKafkaPassword),
		kfake.TLS(ca.ServerConfig(true)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	redisCert := ca.Issue("redis", "127.0.0.1")
	redis := redistest.StartSecured(t, redistest.Secured{CertFile: redisCert.CertFile, KeyFile: redisCert.KeyFile,
		CAFile: ca.File, User: "processor", Password: secureRedisPassword})
	registryURL := registrytest.Start(t, ca, "registry-key", secureRegistryPassword, false)

	passwordFile := filepath.Join(t.TempDir(), "kafka-password")
	writePassword(t, passwordFile, secureWrongPassword)
	cfg := config.Defaults()
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cfg.Kafka.SessionTimeout = 6 * time.Second
	cfg.Kafka.RebalanceTimeout = 3 * time.Second
	cfg.Kafka.TLS = config.TLS{Enabled: true, CAFile: ca.File, CertFile: client.CertFile, KeyFile: client.KeyFile}
	cfg.Kafka.SASL = config.SASL{Mechanism: "SCRAM-SHA-256", Username: "loyalty", PasswordFile: passwordFile}
	cfg.Redis = config.Redis{URL: redis.URL(), KeyPrefix: "sec:", Username: "processor", Password: secureRedisPassword,
		TLS: config.RedisTLS{CAFile: ca.File}}
	cfg.SchemaRegistry = config.SchemaRegistry{URL: registryURL, Username: "registry-key", Password: secureRegistryPassword,
		TLS: config.RegistryTLS{CAFile: ca.File}}
	cfg.Processor.InstanceID = "secure-1"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The test's own clients log in with the right password.
	admin := cfg.Kafka
	admin.SASL.PasswordFile, admin.SASL.Password = "", secureKafkaPassword
	cl, err := connect.KafkaClient(admin)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := topology.CreateMissing(ctx, kadm.NewClient(cl), topology.FromConfig(cfg)); err != nil {
		t.Fatal(err)
	}

	logs := logtest.New()
	p, err := processor.New(ctx, cfg, processor.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	stop := runInBackground(ctx, t, p.Run)

	logs.WaitFor(ctx, t, `kafka broker `+cluster.ListenAddrs()[0]+`: SASL SCRAM-SHA-256 login as \"loyalty\" refused`)
	logs.WaitFor(ctx, t, "rebuilding it")
	writePassword(t, passwordFile, secureKafkaPassword)

	enc, err := debezium.NewEncoder(debezium.Options{Format: debezium.JSON, DecimalMode: "string", Source: cfg.Source})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, cfg: cfg, cl: cl, enc: enc, lsn: 1000, cluster: cluster}
	e.change("tenant", cdc.OpRead, tenantID, nil, row("tenant_id", tenantID, "code", "DEFAULT", "name", "Default store"))
	e.change("tier", cdc.OpRead, bronze, nil, row("tier_id", bronze, "tenant_id", tenantID, "name", "Bronze", "rank", 1))
	e.caughtUp(ctx)
	e.change("member", cdc.OpCreate, memberID, nil, row("member_id", memberID, "tenant_id", tenantID, "active", true,
		"first_name", "Ada", "email", "ada@example.com", "level_id", bronze))
	e.caughtUp(ctx)
	stop()

	// The events went out Avro-encoded with the registry's ids; reading them needs the registry.
	registry, err := connect.Registry(cfg.SchemaRegistry)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	reader := schemas.NewReader(codec, registry)
	var names []string
	for _, r := range committedOn(ctx, t, admin, cfg.Topics.Webhooks) {
		ev, err := reader.Decode(r.Value)
		if err != nil {
			t.Fatalf("webhook record %d/%d: %v", r.Partition, r.Offset, err)
		}
		names = append(names, ev.EventName)
	}
	if !slices.Contains(names, "CustomerRegistered") {
		t.Errorf("webhook events %q lack CustomerRegistered", names)
	}
	for _, secret := range []string{secureKafkaPassword, secureWrongPassword, secureRedisPassword, secureRegistryPassword} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the logs show a secret:\n%s", logs.String())
		}
	}
}

func writePassword(t *testing.T, path, password string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// committedOn reads every committed record of a topic of the secured cluster.
func committedOn(ctx context.Context, t *testing.T, c config.Kafka, topic string) []*kgo.Record {
	t.Helper()
	cl, err := connect.KafkaClient(c, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	var out []*kgo.Record
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("read %s: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset+1 >= remaining[r.Partition] {
				delete(remaining, r.Partition)
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}
