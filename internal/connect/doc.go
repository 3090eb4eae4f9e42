// Package connect builds the clients every command uses — Kafka client options, the Redis client
// and the schema registry client — from the configuration, with TLS and authentication applied the
// same way everywhere. It must never log or return a secret in an error.
package connect
