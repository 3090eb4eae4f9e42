package processor

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/loyaltyhooks/loyaltyhooks/config"
)

// NewRedisClient connects to redis.url — a single node (redis://, rediss://, unix://) or a
// cluster (several addr= parameters) — trusting redis.tls.caFile when set. Connecting is lazy: a
// Redis that is down surfaces as transient batch errors, not here.
func NewRedisClient(c config.Redis) (redis.UniversalClient, error) {
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

// NewRegistryClient returns a client of the configured schema registry.
func NewRegistryClient(c config.SchemaRegistry) (*sr.Client, error) {
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
