package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// FieldSep separates the fields of a row returned by Query.
const FieldSep = "\x1f"

// DB is one throwaway database on the test server.
type DB struct {
	Name string
	psql string
	host string
	port string
	user string
}

// New creates a uniquely named database and drops it when the test ends. It fails the test
// with the psql output when the client is missing or the server does not answer.
func New(t testing.TB) *DB {
	t.Helper()
	psql, err := findPSQL()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	suffix := make([]byte, 6)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	d := &DB{
		Name: fmt.Sprintf("loyaltyhooks_test_%d_%s", os.Getpid(), hex.EncodeToString(suffix)),
		psql: psql,
		host: env("PGHOST", "127.0.0.1"),
		port: env("PGPORT", "5432"),
		user: env("PGUSER", "postgres"),
	}
	if _, err := d.run("postgres", "CREATE DATABASE "+d.Name); err != nil {
		t.Fatalf("pgtest: PostgreSQL at %s:%s (user %s) is required: %v", d.host, d.port, d.user, err)
	}
	t.Cleanup(func() {
		if _, err := d.run("postgres", "DROP DATABASE IF EXISTS "+d.Name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop %s: %v", d.Name, err)
		}
	})
	return d
}

// Exec runs a SQL script, stopping at the first error, which it returns with the server's
// message. Transactions are the script's own (BEGIN … COMMIT).
func (d *DB) Exec(script string) error {
	_, err := d.run(d.Name, script)
	return err
}

// Query runs one statement and returns its rows, fields separated by FieldSep, without headers.
func (d *DB) Query(query string) ([]string, error) {
	out, err := d.run(d.Name, query, "--no-align", "--tuples-only", "--field-separator="+FieldSep)
	if err != nil {
		return nil, err
	}
	text := strings.TrimRight(out, "\n")
	if text == "" {
		return nil, nil
	}
	return strings.Split(text, "\n"), nil
}

func (d *DB) run(db, script string, flags ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{
		"--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1",
		"--host=" + d.host, "--port=" + d.port, "--username=" + d.user, "--dbname=" + db,
		"--file=-",
	}, flags...)
	cmd := exec.CommandContext(ctx, d.psql, args...)
	cmd.Stdin = strings.NewReader(script)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=5", "PGOPTIONS=-c client_min_messages=warning")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("psql on %s: %w: %s", db, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func findPSQL() (string, error) {
	if p := os.Getenv("PSQL"); p != "" {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/psql"); err == nil {
		return "/usr/bin/psql", nil
	}
	p, err := exec.LookPath("psql")
	if err != nil {
		return "", fmt.Errorf("the psql client is required (set PSQL or put psql on PATH): %w", err)
	}
	return p, nil
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
