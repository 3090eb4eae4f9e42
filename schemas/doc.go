// Package schemas holds the Avro schemas of the webhook topic — the WebhookEvent envelope and one
// record per trigger's data, as .avsc files embedded in the binary — and the codec that writes
// and reads them: Confluent wire format with registration when a schema registry is configured,
// Avro single-object encoding otherwise. It must never lose precision: amounts are Avro decimals,
// never floating point.
package schemas
