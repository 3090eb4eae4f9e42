// Package connect builds the clients every command uses — Kafka client options, the Redis client
// and the schema registry client — from the configuration, with TLS and authentication applied the
// same way everywhere, and checks that each service accepts them (CheckKafka, CheckRedis,
// CheckRegistry), saying in the config's terms why not. Secrets given as files are read again for
// every new connection. It must never log or return a secret in an error.
package connect
