package ssrf_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/sender/ssrf"
)

// names is a resolver that answers from a table and never sends a packet.
type names map[string][]string

func (n names) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range n[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	if len(out) == 0 {
		return nil, errors.New("no such host")
	}
	return out, nil
}

// recorder is a dial function that writes down what it was asked to dial and connects to
// nothing.
type recorder struct {
	mu    sync.Mutex
	dials []string
}

var errNotConnecting = errors.New("recorder does not connect")

func (r *recorder) dial(_ context.Context, _, address string) (net.Conn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dials = append(r.dials, address)
	return nil, errNotConnecting
}

func guard(t *testing.T, allowed []string, n names) (*ssrf.Guard, *recorder) {
	t.Helper()
	prefixes, err := ssrf.ParsePrefixes(allowed)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	return ssrf.New(prefixes, time.Second, ssrf.WithResolver(n), ssrf.WithDial(rec.dial)), rec
}

var resolving = names{
	"loopback.test":  {"127.0.0.1"},
	"metadata.test":  {"169.254.169.254"},
	"rebinding.test": {"10.0.0.1", "192.168.1.1"},
	"mixed.test":     {"10.0.0.7", "93.184.215.14"},
	"public.test":    {"93.184.215.14"},
}

// Every forbidden destination is refused before anything is dialled.
func TestRefusesBeforeConnecting(t *testing.T) {
	g, rec := guard(t, nil, resolving)
	cases := map[string]string{
		"127.0.0.1:80":                "loopback",
		"127.0.0.2:80":                "loopback",
		"[::1]:443":                   "loopback",
		"10.0.0.1:80":                 "private",
		"172.16.5.4:80":               "private",
		"192.168.0.10:8080":           "private",
		"169.254.169.254:80":          "link-local",
		"[fe80::1%eth0]:80":           "link-local",
		"[::ffff:127.0.0.1]:80":       "IPv4-mapped IPv6",
		"[::ffff:169.254.169.254]:80": "IPv4-mapped IPv6",
		"100.64.0.1:80":               "carrier-grade NAT",
		"100.100.100.200:80":          "carrier-grade NAT",
		"224.0.0.1:80":                "multicast",
		"[ff02::1]:80":                "multicast",
		"0.0.0.0:80":                  "unspecified",
		"[::]:80":                     "unspecified",
		"255.255.255.255:80":          "reserved",
		"[fd00:ec2::254]:80":          "private",
		"[64:ff9b::a00:1]:80":         "NAT64",
		"loopback.test:80":            "loopback",
		"metadata.test:80":            "link-local",
		"rebinding.test:443":          "private",
	}
	for addr, reason := range cases {
		_, err := g.DialContext(context.Background(), "tcp", addr)
		var re *ssrf.RefusedError
		if !errors.As(err, &re) || !errors.Is(err, ssrf.ErrRefused) {
			t.Errorf("%s: err = %v, want a refusal", addr, err)
			continue
		}
		if re.Reason != reason {
			t.Errorf("%s: reason %q, want %q", addr, re.Reason, reason)
		}
	}
	if len(rec.dials) != 0 {
		t.Errorf("dialled %v; a refused destination must never be dialled", rec.dials)
	}
}

func TestRefusalNamesTheHostNotJustTheAddress(t *testing.T) {
	g, _ := guard(t, nil, resolving)
	_, err := g.DialContext(context.Background(), "tcp", "loopback.test:80")
	if err == nil || !strings.Contains(err.Error(), "loopback.test resolves to 127.0.0.1") {
		t.Errorf("err = %v", err)
	}
}

// Public addresses are dialled — by the recorder, which connects nowhere — and of a name
// with both kinds only the permitted addresses are.
func TestDialsOnlyPermittedAddresses(t *testing.T) {
	g, rec := guard(t, nil, resolving)
	for _, addr := range []string{"public.test:443", "mixed.test:443", "93.184.215.14:80"} {
		if _, err := g.DialContext(context.Background(), "tcp", addr); !errors.Is(err, errNotConnecting) {
			t.Errorf("%s: err = %v, want the recorder's", addr, err)
		}
	}
	want := []string{"93.184.215.14:443", "93.184.215.14:443", "93.184.215.14:80"}
	if !slices.Equal(rec.dials, want) {
		t.Errorf("dialled %v, want %v", rec.dials, want)
	}
}

// The allow-list admits exactly what it names: 127.0.0.1/32 admits 127.0.0.1 (and its mapped
// form) but not another loopback host.
func TestAllowListAdmitsOne(t *testing.T) {
	g, rec := guard(t, []string{"127.0.0.1/32", "10.20.0.0/16"}, resolving)
	for _, addr := range []string{"127.0.0.1:8080", "loopback.test:8080", "[::ffff:127.0.0.1]:8080", "10.20.3.4:80"} {
		if _, err := g.DialContext(context.Background(), "tcp", addr); !errors.Is(err, errNotConnecting) {
			t.Errorf("%s: err = %v, want it dialled", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.2:8080", "[::1]:8080", "10.21.0.1:80", "169.254.169.254:80"} {
		if _, err := g.DialContext(context.Background(), "tcp", addr); !errors.Is(err, ssrf.ErrRefused) {
			t.Errorf("%s: err = %v, want a refusal", addr, err)
		}
	}
	want := []string{"127.0.0.1:8080", "127.0.0.1:8080", "127.0.0.1:8080", "10.20.3.4:80"}
	if !slices.Equal(rec.dials, want) {
		t.Errorf("dialled %v, want %v", rec.dials, want)
	}
}

// The Control hook sees the address the socket is about to connect to: whatever a name
// resolved to at first, a forbidden address at connect time is refused.
func TestControlChecksTheDialledAddress(t *testing.T) {
	g, _ := guard(t, nil, nil)
	for _, addr := range []string{"127.0.0.1:80", "[::1]:80", "10.0.0.1:443", "169.254.169.254:80"} {
		if err := g.Control("tcp", addr, nil); !errors.Is(err, ssrf.ErrRefused) {
			t.Errorf("Control(%s) = %v, want a refusal", addr, err)
		}
	}
	if err := g.Control("tcp", "93.184.215.14:443", nil); err != nil {
		t.Errorf("Control(public) = %v", err)
	}
}

func TestParsePrefixesNamesTheBadOne(t *testing.T) {
	if _, err := ssrf.ParsePrefixes([]string{"10.0.0.0/8", "10.0.0.1"}); err == nil || !strings.Contains(err.Error(), `"10.0.0.1"`) {
		t.Errorf("err = %v", err)
	}
}
