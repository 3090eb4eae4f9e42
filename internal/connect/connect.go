package connect

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/loyaltyhooks/loyaltyhooks/config"
)

// Redis connects to redis.url — a single node (redis://, rediss://, unix://) or a
// cluster (several addr= parameters) — trusting redis.tls.caFile when set. Connecting is lazy: a
// Redis that is down surfaces as transient batch errors, not here.
func Redis(c config.Redis) (redis.UniversalClient, error) {
	if opts, err := redis.ParseURL(c.URL); err == nil {
		if opts.TLSConfig, err = redisTLS(c, opts.TLSConfig); err != nil {
			return nil, err
		}
		return redis.NewClient(opts), nil
	}
	opts, err := redis.ParseClusterURL(c.URL)
	if err != nil {
		return nil, fmt.Errorf("redis.url: %w", err)
	}
	if opts.TLSConfig, err = redisTLS(c, opts.TLSConfig); err != nil {
		return nil, err
	}
	return redis.NewClusterClient(opts), nil
}

// redisTLS adds redis.tls.caFile to the TLS settings a rediss:// URL implies.
func redisTLS(c config.Redis, fromURL *tls.Config) (*tls.Config, error) {
	if c.TLS.CAFile == "" {
		return fromURL, nil
	}
	if fromURL == nil {
		return nil, fmt.Errorf("redis.tls.caFile: set, but redis.url is not a rediss:// URL")
	}
	pem, err := os.ReadFile(c.TLS.CAFile)
	if err != nil {
		return nil, fmt.Errorf("redis.tls.caFile: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("redis.tls.caFile: %s holds no PEM certificate", c.TLS.CAFile)
	}
	return &tls.Config{RootCAs: pool, ServerName: fromURL.ServerName, MinVersion: tls.VersionTLS12}, nil
}

// Registry returns a client of the configured schema registry.
func Registry(c config.SchemaRegistry) (*sr.Client, error) {
	opts := []sr.ClientOpt{sr.URLs(c.URL)}
	if c.Username != "" || c.Password != "" {
		opts = append(opts, sr.BasicAuth(c.Username, c.Password))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schemaRegistry.url: %w", err)
	}
	return cl, nil
}

// Kafka returns the client options that reach the configured cluster: seed brokers, client id,
// TLS (custom CA, client certificate) and SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512).
func Kafka(c config.Kafka) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.ClientID(c.ClientID)}
	if c.TLS.Enabled {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.TLS.CAFile != "" {
			pem, err := os.ReadFile(c.TLS.CAFile)
			if err != nil {
				return nil, fmt.Errorf("kafka.tls.caFile: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("kafka.tls.caFile: %s holds no PEM certificate", c.TLS.CAFile)
			}
		}
		if c.TLS.CertFile != "" || c.TLS.KeyFile != "" {
			cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("kafka.tls.certFile/keyFile: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	switch c.SASL.Mechanism {
	case "":
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: c.SASL.Username, Pass: c.SASL.Password}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASL.Username, Pass: c.SASL.Password}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASL.Username, Pass: c.SASL.Password}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("kafka.sasl.mechanism: %q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", c.SASL.Mechanism)
	}
	return opts, nil
}

// KafkaClient is a plain (non-group, non-transactional) client of the configured cluster plus
// extra options, for admin work and reading.
func KafkaClient(c config.Kafka, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := Kafka(c)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return cl, nil
}
