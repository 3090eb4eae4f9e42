package connect

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loyaltyhooks/loyaltyhooks/config"
)

// Redis connects to redis.url — a single node (redis://, rediss://, unix://), a Sentinel-managed
// primary (the Sentinels' addresses with a master_name= parameter) or a cluster (several addr=
// parameters) — trusting redis.tls.caFile when set, and logging in with redis.username and
// redis.password(File) when set, else with the user in the URL. Connecting is lazy: a Redis that
// is down surfaces as transient batch errors, not here.
func Redis(c config.Redis) (redis.UniversalClient, error) {
	if config.IsSentinelURL(c.URL) {
		opts, err := redis.ParseFailoverURL(c.URL)
		if err != nil {
			return nil, fmt.Errorf("redis.url %s: %w", config.RedactURL(c.URL), withoutURL(err))
		}
		a, err := redisAccessOf(c, opts.TLSConfig, opts.Username, opts.Password, opts.DialTimeout)
		if err != nil {
			return nil, err
		}
		opts.TLSConfig, opts.Username, opts.Password = a.tls, a.username, a.password
		opts.Dialer, opts.CredentialsProviderContext = a.dialer, a.credentials
		return redis.NewFailoverClient(opts), nil
	}
	if opts, err := redis.ParseURL(c.URL); err == nil {
		a, err := redisAccessOf(c, opts.TLSConfig, opts.Username, opts.Password, opts.DialTimeout)
		if err != nil {
			return nil, err
		}
		opts.TLSConfig, opts.Username, opts.Password = a.tls, a.username, a.password
		opts.Dialer, opts.CredentialsProviderContext = a.dialer, a.credentials
		return redis.NewClient(opts), nil
	}
	opts, err := redis.ParseClusterURL(c.URL)
	if err != nil {
		return nil, fmt.Errorf("redis.url %s: %w", config.RedactURL(c.URL), withoutURL(err))
	}
	a, err := redisAccessOf(c, opts.TLSConfig, opts.Username, opts.Password, opts.DialTimeout)
	if err != nil {
		return nil, err
	}
	opts.TLSConfig, opts.Username, opts.Password = a.tls, a.username, a.password
	opts.Dialer, opts.CredentialsProviderContext = a.dialer, a.credentials
	return redis.NewClusterClient(opts), nil
}

// CheckRedis pings Redis and, when that fails, says why in the config's terms: a refused login,
// an untrusted certificate, a server that does not answer.
func CheckRedis(ctx context.Context, rdb redis.UniversalClient, c config.Redis) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	err := rdb.Ping(ctx).Err()
	if err == nil {
		return nil
	}
	var handshake *handshakeError
	if errors.As(err, &handshake) {
		return handshake
	}
	hint := ""
	switch {
	case redis.IsAuthError(err) || redis.IsPermissionError(err):
		hint = " (check redis.username and redis.password, or the user and password in redis.url)"
	case closedByPeer(err) && strings.HasPrefix(c.URL, "redis://"):
		hint = " (does the server want TLS, a rediss:// redis.url?)"
	}
	return fmt.Errorf("redis %s: %w%s", config.RedactURL(c.URL), err, hint)
}

// redisAccess is how a Redis client of either kind reaches its servers.
type redisAccess struct {
	tls                *tls.Config
	dialer             func(ctx context.Context, network, addr string) (net.Conn, error)
	username, password string
	credentials        func(ctx context.Context) (string, string, error)
}

// redisAccessOf combines what the URL says (TLS for rediss://, its user and password) with the
// redis.* keys. The password file is read again for every new connection.
func redisAccessOf(c config.Redis, fromURL *tls.Config, urlUser, urlPassword string, timeout time.Duration) (redisAccess, error) {
	a := redisAccess{tls: fromURL, username: urlUser, password: urlPassword}
	if c.Username != "" {
		a.username = c.Username
	}
	if c.Password != "" {
		a.password = c.Password
	}
	if c.PasswordFile != "" {
		if _, err := config.ReadSecretFile("redis.passwordFile", c.PasswordFile); err != nil {
			return a, err
		}
		user := a.username
		a.username, a.password = "", ""
		a.credentials = func(context.Context) (string, string, error) {
			pass, err := config.ReadSecretFile("redis.passwordFile", c.PasswordFile)
			return user, pass, err
		}
	}
	if c.TLS.CAFile != "" && fromURL == nil {
		return a, fmt.Errorf("redis.tls.caFile: set, but redis.url is not a rediss:// URL")
	}
	if fromURL == nil {
		return a, nil
	}
	s := tlsSettings{service: "redis", keys: "redis.tls", caFile: c.TLS.CAFile, serverName: fromURL.ServerName}
	tc, err := s.config()
	if err != nil {
		return a, err
	}
	if timeout <= 0 {
		timeout = dialTimeout
	}
	a.tls, a.dialer = tc, s.dialer(tc, timeout)
	return a, nil
}

// withoutURL drops the URL that url.Error repeats, password included.
func withoutURL(err error) error {
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
