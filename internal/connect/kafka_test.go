package connect_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
	"github.com/loyaltyhooks/loyaltyhooks/internal/tlstest"
)

// The passwords of the tests' users; no output may show them.
const (
	plainPassword  = "plain-pw-7f3a"
	scram256Pass   = "scram256-pw-91c2"
	scram512Pass   = "scram512-pw-c44e"
	wrongPassword  = "wrong-pw-0d5b"
	plainUser      = "plain-user"
	scram256User   = "scram256-user"
	scram512User   = "scram512-user"
	checkTimeLimit = 30 * time.Second
)

var kafkaSecrets = []string{plainPassword, scram256Pass, scram512Pass, wrongPassword}

// secureCluster is a broker that takes only TLS with a client certificate, then a SASL login.
func secureCluster(t *testing.T) (*kfake.Cluster, *tlstest.CA) {
	t.Helper()
	ca := tlstest.NewCA(t, "kafka")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser("PLAIN", plainUser, plainPassword),
		kfake.Superuser("SCRAM-SHA-256", scram256User, scram256Pass),
		kfake.Superuser("SCRAM-SHA-512", scram512User, scram512Pass),
		kfake.TLS(ca.ServerConfig(true)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	return cluster, ca
}

// kafkaConfig reaches the cluster with TLS, a client certificate and the given login.
func kafkaConfig(cluster *kfake.Cluster, ca *tlstest.CA, client tlstest.Pair, mechanism, user, password string) config.Kafka {
	c := config.Defaults().Kafka
	c.Brokers = cluster.ListenAddrs()
	c.TLS = config.TLS{Enabled: true, CAFile: ca.File, CertFile: client.CertFile, KeyFile: client.KeyFile}
	c.SASL = config.SASL{Mechanism: mechanism, Username: user, Password: password}
	return c
}

func writeSecret(t *testing.T, path, secret string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func assertNoSecret(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s shows a secret: %s", what, text)
		}
	}
}

func TestKafkaLogins(t *testing.T) {
	cluster, ca := secureCluster(t)
	client := ca.Issue("loyaltyhooks", "loyaltyhooks")
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeLimit)
	defer cancel()
	for _, login := range []struct{ mechanism, user, password string }{
		{"PLAIN", plainUser, plainPassword},
		{"SCRAM-SHA-256", scram256User, scram256Pass},
		{"SCRAM-SHA-512", scram512User, scram512Pass},
	} {
		c := kafkaConfig(cluster, ca, client, login.mechanism, login.user, login.password)
		if err := connect.CheckKafka(ctx, c); err != nil {
			t.Errorf("%s: %v", login.mechanism, err)
			continue
		}
		cl, err := connect.KafkaClient(c)
		if err != nil {
			t.Fatal(err)
		}
		topic := "t-" + strings.ToLower(login.mechanism)
		if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, nil, topic); err != nil {
			t.Errorf("%s: create topic: %v", login.mechanism, err)
		} else if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("x")}).FirstErr(); err != nil {
			t.Errorf("%s: produce: %v", login.mechanism, err)
		}
		cl.Close()
	}
}

// Every way of getting the connection wrong fails at once, naming the broker and the cause in
// the config's terms, and showing no password.
func TestKafkaCheckExplains(t *testing.T) {
	cluster, ca := secureCluster(t)
	client := ca.Issue("loyaltyhooks", "loyaltyhooks")
	other := tlstest.NewCA(t, "other")
	broker := cluster.ListenAddrs()[0]
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeLimit)
	defer cancel()
	good := func() config.Kafka {
		return kafkaConfig(cluster, ca, client, "SCRAM-SHA-256", scram256User, scram256Pass)
	}
	cases := []struct {
		name   string
		mutate func(*config.Kafka)
		want   []string
	}{
		{"wrong PLAIN password", func(c *config.Kafka) {
			c.SASL = config.SASL{Mechanism: "PLAIN", Username: plainUser, Password: wrongPassword}
		}, []string{`SASL PLAIN login as "plain-user" refused: the broker closed the connection`, "kafka.sasl.password"}},
		{"wrong SCRAM-SHA-256 password", func(c *config.Kafka) { c.SASL.Password = wrongPassword },
			[]string{`SASL SCRAM-SHA-256 login as "scram256-user" refused`}},
		{"wrong SCRAM-SHA-512 password", func(c *config.Kafka) {
			c.SASL = config.SASL{Mechanism: "SCRAM-SHA-512", Username: scram512User, Password: wrongPassword}
		}, []string{`SASL SCRAM-SHA-512 login as "scram512-user" refused`}},
		{"mechanism the user does not have", func(c *config.Kafka) { c.SASL.Mechanism = "SCRAM-SHA-512" },
			[]string{`SASL SCRAM-SHA-512 login as "scram256-user" refused`, "enables SCRAM-SHA-512 for this user"}},
		{"no SASL", func(c *config.Kafka) { c.SASL = config.SASL{} }, []string{"is SASL missing?"}},
		{"unknown CA", func(c *config.Kafka) { c.TLS.CAFile = other.File },
			[]string{"TLS handshake with kafka broker " + broker, "certificate signed by unknown authority", "kafka.tls.caFile"}},
		{"system CAs", func(c *config.Kafka) { c.TLS.CAFile = "" },
			[]string{"TLS handshake with kafka broker " + broker, "set kafka.tls.caFile"}},
		{"server name", func(c *config.Kafka) { c.TLS.ServerName = "kafka.example" },
			[]string{"TLS handshake with kafka broker " + broker, "kafka.example", "kafka.tls.serverName"}},
		{"no client certificate", func(c *config.Kafka) { c.TLS.CertFile, c.TLS.KeyFile = "", "" },
			[]string{"certificate required"}},
		{"no TLS", func(c *config.Kafka) { c.TLS = config.TLS{} }, []string{"is TLS missing?"}},
	}
	for _, tc := range cases {
		c := good()
		tc.mutate(&c)
		err := connect.CheckKafka(ctx, c)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		msg := err.Error()
		for _, want := range append(tc.want, broker) {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: error %q lacks %q", tc.name, msg, want)
			}
		}
		assertNoSecret(t, tc.name, msg, kafkaSecrets...)
	}
	if err := connect.CheckKafka(ctx, good()); err != nil {
		t.Errorf("the right settings: %v", err)
	}
}

// The check passes when one seed broker answers, and names every one when none does.
func TestKafkaCheckTriesEverySeed(t *testing.T) {
	cluster, ca := secureCluster(t)
	c := kafkaConfig(cluster, ca, ca.Issue("loyaltyhooks"), "PLAIN", plainUser, plainPassword)
	down := downAddr(t)
	c.Brokers = append([]string{down}, c.Brokers...)
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeLimit)
	defer cancel()
	if err := connect.CheckKafka(ctx, c); err != nil {
		t.Errorf("one seed answers: %v", err)
	}
	c.SASL.Password = wrongPassword
	err := connect.CheckKafka(ctx, c)
	if err == nil || !strings.Contains(err.Error(), "kafka broker "+down+": ") ||
		!strings.Contains(err.Error(), "kafka broker "+cluster.ListenAddrs()[0]+": SASL PLAIN") {
		t.Errorf("no seed answers: %v", err)
	}
}

// A password file is read for every new connection: fixing it needs no new client.
func TestKafkaPasswordFileIsReadPerConnection(t *testing.T) {
	cluster, ca := secureCluster(t)
	c := kafkaConfig(cluster, ca, ca.Issue("loyaltyhooks"), "SCRAM-SHA-512", scram512User, "")
	c.SASL.PasswordFile = filepath.Join(t.TempDir(), "password")
	writeSecret(t, c.SASL.PasswordFile, wrongPassword)
	cl, err := connect.KafkaClient(c, kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeLimit)
	defer cancel()
	adm := kadm.NewClient(cl)
	if _, err := adm.ListBrokers(ctx); err == nil {
		t.Fatal("the wrong password was accepted")
	}
	writeSecret(t, c.SASL.PasswordFile, scram512Pass)
	if _, err := adm.ListBrokers(ctx); err != nil {
		t.Fatalf("after the file was fixed: %v", err)
	}
}

// A broken file is a config error at once, not a failure at the first connection.
func TestKafkaOptionsCheckFiles(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	writeSecret(t, notPEM, "hello")
	empty := filepath.Join(dir, "empty")
	writeSecret(t, empty, "")
	cases := map[string]struct {
		mutate func(*config.Kafka)
		want   string
	}{
		"CA without PEM":      {func(c *config.Kafka) { c.TLS = config.TLS{Enabled: true, CAFile: notPEM} }, "kafka.tls.caFile"},
		"key pair":            {func(c *config.Kafka) { c.TLS = config.TLS{Enabled: true, CertFile: notPEM, KeyFile: notPEM} }, "kafka.tls.certFile/keyFile"},
		"empty password file": {func(c *config.Kafka) { c.SASL = config.SASL{Mechanism: "PLAIN", Username: "u", PasswordFile: empty} }, "kafka.sasl.passwordFile"},
		"missing password file": {func(c *config.Kafka) {
			c.SASL = config.SASL{Mechanism: "PLAIN", Username: "u", PasswordFile: filepath.Join(dir, "none")}
		}, "kafka.sasl.passwordFile"},
	}
	for name, tc := range cases {
		c := config.Defaults().Kafka
		tc.mutate(&c)
		if _, err := connect.Kafka(c); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one starting %q", name, err, tc.want)
		}
	}
}

// downAddr is a loopback address nothing listens on.
func downAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
