package connect_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
	"github.com/loyaltyhooks/loyaltyhooks/internal/tlstest"
)

const (
	redisUser     = "loyalty"
	redisPassword = "redis-pw-5e81"
)

// secureRedis is a redis-server that takes only TLS, and only the ACL user redisUser.
func secureRedis(t *testing.T) (*redistest.Server, *tlstest.CA) {
	t.Helper()
	ca := tlstest.NewCA(t, "redis")
	server := ca.Issue("redis-server", "127.0.0.1", "localhost")
	return redistest.StartSecured(t, redistest.Secured{CertFile: server.CertFile, KeyFile: server.KeyFile,
		CAFile: ca.File, User: redisUser, Password: redisPassword}), ca
}

func TestRedisLogins(t *testing.T) {
	srv, ca := secureRedis(t)
	ctx := context.Background()
	passwordFile := filepath.Join(t.TempDir(), "redis-password")
	writeSecret(t, passwordFile, redisPassword)
	withUser := strings.Replace(srv.URL(), "rediss://", "rediss://"+redisUser+":"+redisPassword+"@", 1)
	for name, c := range map[string]config.Redis{
		"keys":            {URL: srv.URL(), Username: redisUser, Password: redisPassword},
		"password file":   {URL: srv.URL(), Username: redisUser, PasswordFile: passwordFile},
		"user in the URL": {URL: withUser},
	} {
		c.TLS.CAFile = ca.File
		rdb, err := connect.Redis(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := connect.CheckRedis(ctx, rdb, c); err != nil {
			t.Errorf("%s: %v", name, err)
		} else if err := rdb.Set(ctx, "k", name, 0).Err(); err != nil {
			t.Errorf("%s: SET: %v", name, err)
		}
		_ = rdb.Close()
	}
}

func TestRedisCheckExplains(t *testing.T) {
	srv, ca := secureRedis(t)
	other := tlstest.NewCA(t, "other")
	ctx := context.Background()
	withWrongUser := strings.Replace(srv.URL(), "rediss://", "rediss://"+redisUser+":"+wrongPassword+"@", 1)
	cases := []struct {
		name string
		c    config.Redis
		want []string
	}{
		{"wrong password", config.Redis{URL: srv.URL(), Username: redisUser, Password: wrongPassword, TLS: config.RedisTLS{CAFile: ca.File}},
			[]string{"redis " + srv.URL() + ": WRONGPASS", "check redis.username and redis.password"}},
		{"wrong password in the URL", config.Redis{URL: withWrongUser, TLS: config.RedisTLS{CAFile: ca.File}},
			[]string{"rediss://loyalty:[redacted]@" + srv.Addr, "WRONGPASS"}},
		{"no login", config.Redis{URL: srv.URL(), TLS: config.RedisTLS{CAFile: ca.File}},
			[]string{"redis " + srv.URL() + ": ", "check redis.username"}},
		{"unknown CA", config.Redis{URL: srv.URL(), Username: redisUser, Password: redisPassword, TLS: config.RedisTLS{CAFile: other.File}},
			[]string{"TLS handshake with redis " + srv.Addr, "certificate signed by unknown authority", "redis.tls.caFile"}},
		{"no TLS", config.Redis{URL: strings.Replace(srv.URL(), "rediss://", "redis://", 1), Username: redisUser, Password: redisPassword},
			[]string{"redis redis://" + srv.Addr}},
	}
	for _, tc := range cases {
		rdb, err := connect.Redis(tc.c)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		err = connect.CheckRedis(ctx, rdb, tc.c)
		_ = rdb.Close()
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, want := range tc.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, want)
			}
		}
		assertNoSecret(t, tc.name, err.Error(), redisPassword, wrongPassword)
	}
}

// A rotated password file takes effect at the next connection of the same client.
func TestRedisPasswordFileIsReadPerConnection(t *testing.T) {
	srv, ca := secureRedis(t)
	file := filepath.Join(t.TempDir(), "redis-password")
	writeSecret(t, file, wrongPassword)
	c := config.Redis{URL: srv.URL(), Username: redisUser, PasswordFile: file, TLS: config.RedisTLS{CAFile: ca.File}}
	rdb, err := connect.Redis(c)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	if err := connect.CheckRedis(ctx, rdb, c); err == nil {
		t.Fatal("the wrong password was accepted")
	}
	writeSecret(t, file, redisPassword)
	if err := connect.CheckRedis(ctx, rdb, c); err != nil {
		t.Fatalf("after the file was fixed: %v", err)
	}
}

// An unparseable URL is reported without its password.
func TestRedisURLErrorHidesPassword(t *testing.T) {
	_, err := connect.Redis(config.Redis{URL: "redis://user:" + redisPassword + "%zz@h:6379?addr=x"})
	if err == nil {
		t.Fatal("no error")
	}
	assertNoSecret(t, "error", err.Error(), redisPassword)
}
