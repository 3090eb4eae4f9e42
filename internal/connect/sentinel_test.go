package connect_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
)

// TestRedisThroughSentinel reaches a primary through a real Sentinel: redis.url names the
// Sentinel and the master name, and the client finds the primary by asking it.
func TestRedisThroughSentinel(t *testing.T) {
	primary := redistest.Start(t)
	_, primaryPort, _ := net.SplitHostPort(primary.Addr)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor lh %s %s 1\nsentinel down-after-milliseconds lh 60000\n",
		port, dir, "127.0.0.1", primaryPort)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", conf, "--sentinel", "--logfile", filepath.Join(dir, "sentinel.log"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sentinel: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	cfg := config.Defaults()
	cfg.Processor.InstanceID = "sentinel-test"
	cfg.Redis.URL = fmt.Sprintf("redis://127.0.0.1:%d/0?master_name=lh", port)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rdb, err := connect.Redis(cfg.Redis)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		err = rdb.Set(ctx, "lh-sentinel", "through the sentinel", 0).Err()
		if err == nil {
			break
		}
		select { // the Sentinel answers once it has started listening
		case <-ctx.Done():
			t.Fatalf("write through sentinel: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if got := primary.Client().Get(ctx, "lh-sentinel").Val(); got != "through the sentinel" {
		t.Fatalf("primary holds %q", got)
	}
}
