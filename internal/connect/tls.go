package connect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// tlsSettings are the TLS keys of one service.
type tlsSettings struct {
	service    string // how errors name the server: "kafka broker", "redis", "schema registry"
	keys       string // prefix of the config keys, for errors and hints: "kafka.tls"
	caFile     string
	certFile   string
	keyFile    string
	serverName string
}

// config builds the client side: the CA file's certificates as the only roots (the system's when
// there is none) and a client certificate that is loaded again for every handshake, so a renewed
// certificate needs no restart. The files are read here once as well, so that a broken one fails
// at startup rather than at the first connection.
func (s tlsSettings) config() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.serverName}
	if s.caFile != "" {
		pem, err := os.ReadFile(s.caFile)
		if err != nil {
			return nil, fmt.Errorf("%s.caFile: %w", s.keys, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.caFile: %s holds no PEM certificate", s.keys, s.caFile)
		}
	}
	if s.certFile != "" || s.keyFile != "" {
		if _, err := s.clientCertificate(nil); err != nil {
			return nil, err
		}
		tc.GetClientCertificate = s.clientCertificate
	}
	return tc, nil
}

func (s tlsSettings) clientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return nil, fmt.Errorf("%s.certFile/keyFile: %w", s.keys, err)
	}
	return &cert, nil
}

// dialer opens TCP, then TLS with tc, checking the certificate against the host dialed unless
// tc names a server. A failed handshake is a *handshakeError, which names the server and the
// likely cause; TCP errors are returned as they are.
func (s tlsSettings) dialer(tc *tls.Config, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := (&net.Dialer{Timeout: timeout}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cfg := tc
		if cfg.ServerName == "" {
			if host, _, err := net.SplitHostPort(addr); err == nil {
				cfg = tc.Clone()
				cfg.ServerName = host
			}
		}
		conn := tls.Client(raw, cfg)
		hctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := conn.HandshakeContext(hctx); err != nil {
			_ = raw.Close()
			return nil, &handshakeError{settings: s, addr: addr, err: err}
		}
		return conn, nil
	}
}

// handshakeError is a failed TLS handshake with a server.
type handshakeError struct {
	settings tlsSettings
	addr     string
	err      error
}

func (e *handshakeError) Error() string {
	return fmt.Sprintf("TLS handshake with %s %s: %v%s", e.settings.service, e.addr, e.err, tlsHint(e.err, e.settings))
}

func (e *handshakeError) Unwrap() error { return e.err }

// tlsHint says which key most likely fixes a failed handshake.
func tlsHint(err error, s tlsSettings) string {
	var unknown x509.UnknownAuthorityError
	var name x509.HostnameError
	var header tls.RecordHeaderError
	switch {
	case errors.As(err, &unknown) && s.caFile != "":
		return fmt.Sprintf(" (%s.caFile %s does not hold the CA that signed the server's certificate)", s.keys, s.caFile)
	case errors.As(err, &unknown):
		return fmt.Sprintf(" (no CA of the system trusts the server's certificate; set %s.caFile)", s.keys)
	case errors.As(err, &name) && s.keys == "kafka.tls":
		return " (the certificate does not hold the name dialed; set kafka.tls.serverName to one it holds)"
	case errors.As(err, &name):
		return " (the certificate does not hold the name dialed; connect by a name it holds)"
	case errors.As(err, &header), errors.Is(err, io.EOF):
		return " (does the server speak TLS on this port?)"
	case refusedClientCertificate(err) && s.keys != "redis.tls":
		return fmt.Sprintf(" (the server wants a client certificate it trusts: check %s.certFile and %s.keyFile)", s.keys, s.keys)
	}
	return ""
}

// refusedClientCertificate tells a server's TLS alert about the client certificate; crypto/tls
// does not export the alert's type, so its text is matched.
func refusedClientCertificate(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "remote error: tls: certificate required") ||
		strings.Contains(msg, "remote error: tls: bad certificate") ||
		strings.Contains(msg, "remote error: tls: unknown certificate authority")
}
