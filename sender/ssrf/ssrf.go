package ssrf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrRefused is wrapped by every refusal, so callers can tell a forbidden destination from a
// network failure.
var ErrRefused = errors.New("ssrf: destination refused")

// RefusedError says which address was refused and why.
type RefusedError struct {
	Host   string     // the host as given, a name or a literal
	Addr   netip.Addr // the refused address
	Reason string     // loopback, private, link-local, …
}

func (e *RefusedError) Error() string {
	if e.Host != "" && e.Host != e.Addr.String() {
		return fmt.Sprintf("ssrf: %s resolves to %s, a %s address; refused", e.Host, e.Addr, e.Reason)
	}
	return fmt.Sprintf("ssrf: %s is a %s address; refused", e.Addr, e.Reason)
}

// Unwrap makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// forbidden are the address ranges refused unless allowed, each with the reason given.
var forbidden = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"}, // also Alibaba's metadata 100.100.100.200
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"}, // the metadata service 169.254.169.254
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // and the broadcast address
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible IPv6"},
	{netip.MustParsePrefix("::ffff:0:0/96"), "IPv4-mapped IPv6"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard"},
	{netip.MustParsePrefix("2001::/32"), "Teredo"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("2002::/16"), "6to4"},
	{netip.MustParsePrefix("fc00::/7"), "private"}, // unique local, also AWS's metadata fd00:ec2::254
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// Resolver finds the addresses of a host name.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DialFunc connects to an address that is an IP literal and a port.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Guard checks destinations and dials only those it permits. It is safe for concurrent use.
type Guard struct {
	allowed  []netip.Prefix
	resolver Resolver
	dial     DialFunc
}

// Option adjusts a Guard.
type Option func(*Guard)

// WithResolver resolves names with r instead of net.DefaultResolver.
func WithResolver(r Resolver) Option { return func(g *Guard) { g.resolver = r } }

// WithDial connects with d instead of a net.Dialer whose Control hook re-checks the address.
func WithDial(d DialFunc) Option { return func(g *Guard) { g.dial = d } }

// New returns a guard that refuses the forbidden ranges except where allowed admits them;
// connectTimeout bounds each connection attempt of the default dialer.
func New(allowed []netip.Prefix, connectTimeout time.Duration, opts ...Option) *Guard {
	g := &Guard{allowed: allowed, resolver: net.DefaultResolver}
	d := &net.Dialer{Timeout: connectTimeout, Control: g.Control}
	g.dial = d.DialContext
	for _, o := range opts {
		o(g)
	}
	return g
}

// ParsePrefixes reads an allow-list of CIDRs, naming the bad one.
func ParsePrefixes(cidrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("ssrf: %q is not a CIDR like 10.0.0.0/8", c)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Check returns nil when the guard permits connecting to ip, else a *RefusedError. The
// allow-list is consulted with the address as given and, for an IPv4-mapped address, with its
// IPv4 form, so admitting 127.0.0.0/8 also admits ::ffff:127.0.0.1.
func (g *Guard) Check(ip netip.Addr) error {
	ip = ip.WithZone("")
	for _, p := range g.allowed {
		if p.Contains(ip) || p.Contains(ip.Unmap()) {
			return nil
		}
	}
	if !ip.IsValid() {
		return &RefusedError{Addr: ip, Reason: "invalid"}
	}
	for _, f := range forbidden {
		if f.prefix.Contains(ip) {
			return &RefusedError{Addr: ip, Reason: f.reason}
		}
	}
	return nil
}

// Control is a net.Dialer Control hook: it runs after the socket is created and before it
// connects, with the address actually being dialled.
func (g *Guard) Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &RefusedError{Reason: "unparsable (" + address + ")"}
	}
	return g.Check(ap.Addr())
}

// DialContext connects to address (host:port) if the guard permits one of the host's
// addresses, trying the permitted ones in the resolver's order. When none is permitted it
// returns the refusal of the first, having connected to nothing.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("ssrf: %w", err)
	}
	addrs, err := g.resolve(ctx, network, host)
	if err != nil {
		return nil, err
	}
	var refused, failed error
	for _, a := range addrs {
		if err := g.Check(a); err != nil {
			if refused == nil {
				re := err.(*RefusedError)
				re.Host = host
				refused = re
			}
			continue
		}
		conn, err := g.dial(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		failed = err
		if ctx.Err() != nil {
			break
		}
	}
	if failed != nil {
		return nil, failed
	}
	return nil, refused
}

// resolve returns the addresses of host: itself when it is a literal, else the resolver's.
func (g *Guard) resolve(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	lookup := "ip"
	switch network {
	case "tcp4", "udp4":
		lookup = "ip4"
	case "tcp6", "udp6":
		lookup = "ip6"
	}
	addrs, err := g.resolver.LookupNetIP(ctx, lookup, host)
	if err != nil {
		return nil, fmt.Errorf("ssrf: resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("ssrf: %s has no address", host)
	}
	return addrs, nil
}
