// Package ssrf is the sender's guard against server-side request forgery: a dialer that refuses
// to connect to loopback, private, link-local, carrier-grade NAT, multicast, unspecified,
// IPv4-mapped IPv6, NAT64 and cloud-metadata addresses unless a configured CIDR allow-list
// admits them. It resolves names itself and checks every address it is about to dial, and its
// net.Dialer Control hook checks the address actually dialled once more, so DNS rebinding
// cannot slip a forbidden address past it. It must never connect before the check, and never
// use a proxy: the address it checks is the address it connects to.
package ssrf
