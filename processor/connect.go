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

// NewRedisClient connects to redis.url (redis:// or rediss://), trusting redis.tls.caFile when
// set. Connecting is lazy: a Redis that is down surfaces as transient batch errors, not here.
func NewRedisClient(c config.Redis) (redis.UniversalClient, error) {
	opts, err := redis.ParseURL(c.URL)
	if err != nil {
		return nil, fmt.Errorf("redis.url: %w", err)
	}
	if c.TLS.CAFile != "" {
		if opts.TLSConfig == nil {
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
		opts.TLSConfig = &tls.Config{RootCAs: pool, ServerName: opts.TLSConfig.ServerName, MinVersion: tls.VersionTLS12}
	}
	return redis.NewClient(opts), nil
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
