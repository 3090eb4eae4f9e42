package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
	"github.com/loyaltyhooks/loyaltyhooks/internal/logtest"
	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
	"github.com/loyaltyhooks/loyaltyhooks/internal/registrytest"
	"github.com/loyaltyhooks/loyaltyhooks/internal/tlstest"
	"github.com/loyaltyhooks/loyaltyhooks/topology"
)

const (
	cliKafkaPassword    = "kafka-pw-18e2"
	cliRedisPassword    = "redis-pw-77b0"
	cliRegistryPassword = "registry-pw-d3c5"
	cliWrongPassword    = "wrong-pw-4a4a"
)

var cliSecrets = []string{cliKafkaPassword, cliRedisPassword, cliRegistryPassword, cliWrongPassword}

// TestSecuredCluster drives the commands the way a Kubernetes deployment would: TLS files and
// password files mounted, everything else in LOYALTYHOOKS_ variables, against a broker that takes
// only TLS with a client certificate and a SCRAM-SHA-512 login, a redis-server that takes only TLS
// and an ACL user, and a registry behind TLS and basic auth. `process` starts while the Redis
// password file is wrong: it must say so and wait, and go on once the file is fixed. `tail` then
// reads the events, and fails cleanly with a wrong password. No output shows a secret.
func TestSecuredCluster(t *testing.T) {
	ca := tlstest.NewCA(t, "loyalty")
	client := ca.Issue("loyaltyhooks")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "loyalty", cliKafkaPassword),
		kfake.TLS(ca.ServerConfig(true)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	redisCert := ca.Issue("redis", "127.0.0.1")
	redis := redistest.StartSecured(t, redistest.Secured{CertFile: redisCert.CertFile, KeyFile: redisCert.KeyFile,
		CAFile: ca.File, User: "loyaltyhooks", Password: cliRedisPassword})
	registryURL := registrytest.Start(t, ca, "registry-key", cliRegistryPassword, false)

	secrets := t.TempDir()
	kafkaPasswordFile := writeSecretFile(t, secrets, "kafka-password", cliKafkaPassword)
	redisPasswordFile := writeSecretFile(t, secrets, "redis-password", cliWrongPassword)
	for k, v := range map[string]string{
		"KAFKA_BROKERS":             strings.Join(cluster.ListenAddrs(), ","),
		"KAFKA_TLS_ENABLED":         "true",
		"KAFKA_TLS_CAFILE":          ca.File,
		"KAFKA_TLS_CERTFILE":        client.CertFile,
		"KAFKA_TLS_KEYFILE":         client.KeyFile,
		"KAFKA_SASL_MECHANISM":      "SCRAM-SHA-512",
		"KAFKA_SASL_USERNAME":       "loyalty",
		"KAFKA_SASL_PASSWORDFILE":   kafkaPasswordFile,
		"REDIS_URL":                 redis.URL(),
		"REDIS_USERNAME":            "loyaltyhooks",
		"REDIS_PASSWORDFILE":        redisPasswordFile,
		"REDIS_TLS_CAFILE":          ca.File,
		"SCHEMAREGISTRY_URL":        registryURL,
		"SCHEMAREGISTRY_USERNAME":   "registry-key",
		"SCHEMAREGISTRY_TLS_CAFILE": ca.File,
		"PROCESSOR_INSTANCEID":      "secure-1",
		"KAFKA_SESSIONTIMEOUT":      "6s",
		"KAFKA_REBALANCETIMEOUT":    "3s",
		"METRICS_ADDR":              "127.0.0.1:0",
		"LOG_LEVEL":                 "warn",
	} {
		t.Setenv("LOYALTYHOOKS_"+k, v)
	}
	// The registry password sits in the config file in plain text: accepted, and warned about.
	file := filepath.Join(t.TempDir(), "loyaltyhooks.yaml")
	if err := os.WriteFile(file, []byte("schemaRegistry:\n  password: "+cliRegistryPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	var outputs []string // everything any command printed or returned
	seen := func(texts ...string) { outputs = append(outputs, texts...) }

	stdout, stderr, err := runSecured(ctx, "config", "print", "--config", file)
	seen(stdout, stderr)
	if err != nil {
		t.Fatalf("config print: %v", err)
	}
	for _, want := range []string{"passwordFile: " + kafkaPasswordFile, "password: '[redacted]'"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("config print lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, `"key":"schemaRegistry.password"`) || !strings.Contains(stderr, "plain text") {
		t.Errorf("no warning about the plain-text password:\n%s", stderr)
	}

	cfg, err := config.Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := connect.KafkaClient(cfg.Kafka, kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := topology.CreateMissing(ctx, kadm.NewClient(admin), topology.FromConfig(cfg)); err != nil {
		t.Fatal(err)
	}

	procErr, procLog := make(chan error, 1), logtest.New()
	procCtx, stopProc := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { procErr <- runSecuredTo(procCtx, nil, procLog, "process", "--config", file) })
	procLog.WaitFor(ctx, t, "redis "+redis.URL()+": WRONGPASS")
	writeSecretFile(t, secrets, "redis-password", cliRedisPassword)

	for _, l := range []fixtureLine{
		{Topic: cfg.Source.Topic("tenant"), Key: []byte(`{"tenant_id":"t-1"}`),
			Value: []byte(`{"before":null,"after":{"tenant_id":"6f1c1a52-3c1e-4b8e-9d1e-0a0000000001","code":"DEFAULT","name":"Default"},"source":{"snapshot":"true","ts_ms":1767225600000,"lsn":8,"table":"tenant"},"op":"r","ts_ms":1767225600100}`)},
		{Topic: cfg.Source.Topic("member"), Key: []byte(`{"member_id":"m-1"}`),
			Value: []byte(`{"before":null,"after":{"member_id":"5d2c3a10-7b8e-4f5a-9c1d-000000000001","tenant_id":"6f1c1a52-3c1e-4b8e-9d1e-0a0000000001","active":true,"first_name":"Ada","email":"ada@example.com"},"source":{"snapshot":"false","ts_ms":1767225600200,"lsn":16,"table":"member"},"op":"c","ts_ms":1767225600300}`)},
	} {
		if err := admin.ProduceSync(ctx, &kgo.Record{Topic: l.Topic, Key: l.Key, Value: l.Value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		waitCommitted(ctx, t, admin, cfg.Processor.Group)
	}
	stopProc()
	wg.Wait()
	seen(procLog.String())
	if err := <-procErr; err != nil {
		t.Fatalf("process: %v\n%s", err, procLog.String())
	}

	stdout, stderr, err = runSecured(ctx, "tail", "--config", file)
	seen(stdout, stderr)
	if err != nil {
		t.Fatalf("tail: %v", err)
	}
	if !strings.Contains(stdout, `"eventName":"CustomerRegistered"`) {
		t.Errorf("tail shows no CustomerRegistered event:\n%s\nprocess log:\n%s", stdout, procLog.String())
	}

	// Wrong passwords: tail fails at once, saying which service refused which login.
	writeSecretFile(t, secrets, "kafka-password", cliWrongPassword)
	_, stderr, err = runSecured(ctx, "tail", "--config", file)
	seen(stderr, errText(err))
	if err == nil || !strings.Contains(err.Error(), "kafka broker "+cluster.ListenAddrs()[0]+`: SASL SCRAM-SHA-512 login as "loyalty" refused`) {
		t.Errorf("tail with a wrong Kafka password: %v", err)
	}
	writeSecretFile(t, secrets, "kafka-password", cliKafkaPassword)
	t.Setenv("LOYALTYHOOKS_SCHEMAREGISTRY_PASSWORD", cliWrongPassword)
	_, stderr, err = runSecured(ctx, "tail")
	seen(stderr, errText(err))
	if err == nil || !strings.Contains(err.Error(), "schema registry "+registryURL+": HTTP 401") {
		t.Errorf("tail with a wrong registry password: %v", err)
	}

	for _, out := range outputs {
		for _, secret := range cliSecrets {
			if strings.Contains(out, secret) {
				t.Errorf("output shows a secret:\n%s", out)
			}
		}
	}
}

func writeSecretFile(t *testing.T, dir, name, secret string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runSecured(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	err = runSecuredTo(ctx, &out, &errOut, args...)
	return out.String(), errOut.String(), err
}

// runSecuredTo runs the command line in-process, its output and logs going to stdout and stderr.
func runSecuredTo(ctx context.Context, stdout, stderr interface{ Write([]byte) (int, error) }, args ...string) error {
	cmd := newRootCommand()
	cmd.SetArgs(args)
	if stdout != nil {
		cmd.SetOut(stdout)
	}
	cmd.SetErr(stderr)
	return cmd.ExecuteContext(ctx)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
