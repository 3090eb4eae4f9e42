// Package tlstest makes certificates for tests: a certificate authority of the test's own and the
// server and client certificates it signs, as PEM files in the test's temporary directory. They
// name only loopback hosts; nothing here may be used outside tests.
package tlstest
