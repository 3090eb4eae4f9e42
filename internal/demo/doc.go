// Package demo runs the whole system in one process with no outside service: an in-process
// Kafka-protocol broker, an embedded Redis unless a URL is given, the topology, a simulated
// loyalty database writing Debezium change events, the processor, and a reader printing every
// committed webhook event, then a summary per trigger. It is for showing and smoke-testing, and
// must never be mistaken for a production setup: nothing in it is durable unless asked.
package demo
