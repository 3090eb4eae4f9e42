// Package endpoint keeps, per webhook endpoint (scheme, host and port), the two things that stop
// one endpoint from hurting the others: a cap on attempts in flight, and a circuit breaker that
// opens after consecutive failures, refuses attempts while open, and lets one probe through
// after a while. It knows nothing of HTTP or Kafka, and it must never block a caller past the
// deadline the caller gives.
package endpoint
