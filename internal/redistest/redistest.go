package redistest

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server child process.
type Server struct {
	Addr string
	Dir  string
	cmd  *exec.Cmd
	port int
	t    testing.TB
	sec  Secured
	more []string // further command line options (cluster mode)
}

// Secured makes a server require TLS, an ACL user, or both.
type Secured struct {
	// CertFile and KeyFile are the server's certificate and key: only TLS is accepted then.
	// Clients trust CAFile; they need no certificate of their own.
	CertFile, KeyFile, CAFile string
	// User and Password, when set, are the only login: the default user is disabled.
	User, Password string
}

// Start runs redis-server on a free port with its data in a temporary directory; it is stopped
// when the test ends. Binary: $REDIS_SERVER or redis-server on PATH.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{Dir: t.TempDir(), t: t}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// StartSecured is Start for a server that requires what sec asks for.
func StartSecured(t testing.TB, sec Secured) *Server {
	t.Helper()
	s := &Server{Dir: t.TempDir(), t: t, sec: sec}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// URL returns the URL of the server, rediss:// when it requires TLS; it holds no credentials.
func (s *Server) URL() string {
	if s.sec.CertFile != "" {
		return "rediss://" + s.Addr + "/0"
	}
	return "redis://" + s.Addr + "/0"
}

// Client returns a new client of the server, logged in when it has a user, closed when the test
// ends.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(s.options())
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

func (s *Server) options() *redis.Options {
	o := &redis.Options{Addr: s.Addr, Username: s.sec.User, Password: s.sec.Password}
	if s.sec.CertFile != "" {
		pool := x509.NewCertPool()
		if pem, err := os.ReadFile(s.sec.CAFile); err == nil {
			pool.AppendCertsFromPEM(pem)
		}
		o.TLSConfig = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	}
	return o
}

// args are the server's command line options for what sec requires.
func (s *Server) args() []string {
	port := strconv.Itoa(s.port)
	args := []string{"--port", port}
	if s.sec.CertFile != "" {
		args = []string{"--port", "0", "--tls-port", port, "--tls-cert-file", s.sec.CertFile,
			"--tls-key-file", s.sec.KeyFile, "--tls-ca-cert-file", s.sec.CAFile, "--tls-auth-clients", "no"}
	}
	if s.sec.User != "" {
		args = append(args, "--user", "default", "off",
			"--user", s.sec.User, "on", ">"+s.sec.Password, "~*", "&*", "+@all")
	}
	return append(args, s.more...)
}

func (s *Server) start() {
	t := s.t
	t.Helper()
	bin := os.Getenv("REDIS_SERVER")
	if bin == "" {
		bin = "redis-server"
	}
	if _, err := exec.LookPath(bin); err != nil {
		t.Fatalf("redistest: %s not found (install redis-server or set REDIS_SERVER): %v", bin, err)
	}
	if s.port == 0 {
		s.port = freePort(t)
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	s.cmd = exec.Command(bin, append([]string{"--bind", "127.0.0.1",
		"--dir", s.Dir, "--appendonly", "yes", "--save", "",
		"--logfile", filepath.Join(s.Dir, "redis.log")}, s.args()...)...)
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("redistest: start %s: %v", bin, err)
	}
	opts := s.options()
	opts.MaxRetries = -1
	c := redis.NewClient(opts)
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: redis-server on %s not ready: %v\n%s", s.Addr, err, s.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server; its append-only file stays, so Restart brings the data back.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port and data directory.
func (s *Server) Restart() {
	s.Stop()
	s.start()
}

func (s *Server) log() string {
	f, err := os.Open(filepath.Join(s.Dir, "redis.log"))
	if err != nil {
		return ""
	}
	defer f.Close()
	var out string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out += sc.Text() + "\n"
	}
	return out
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// String describes the server for failure messages.
func (s *Server) String() string { return fmt.Sprintf("redis-server %s (%s)", s.Addr, s.Dir) }

// UsedMemory returns Redis's used_memory (INFO memory), for measuring bytes per stored item.
func UsedMemory(tb testing.TB, rdb *redis.Client) int64 {
	tb.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatal("INFO memory has no used_memory")
	return 0
}
