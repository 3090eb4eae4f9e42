// Package debezium writes change events the way Debezium's PostgreSQL connector and Kafka
// Connect's converters do — the JSON converter with and without embedded schemas, and the Avro
// converter in the Confluent wire format with schemas registered under <topic>-key and
// <topic>-value — from a cdc.Change. Tests use it to turn one change into every source format,
// and the demo's simulated database uses it to feed the processor. It must never be used to
// read events: decoding belongs to cdc alone, so the two stay independent checks of
// each other.
package debezium
