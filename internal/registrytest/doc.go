// Package registrytest serves an in-memory schema registry (franz-go's srfake) the way a managed
// one is reached: over TLS on loopback, behind basic auth. It is for tests only.
package registrytest
