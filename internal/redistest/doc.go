// Package redistest starts a private redis-server on a free loopback port for a test, so tests run
// against real Redis without touching the machine's shared instance; StartSecured makes it
// require TLS and an ACL user, as managed Redis services do, and StartCluster starts several in
// cluster mode as one Redis Cluster. It must never flush or connect to any Redis it did not
// start.
package redistest
