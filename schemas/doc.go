// Package schemas holds the Avro schemas of the webhook topic — the WebhookEvent envelope and one
// record per trigger's data, as .avsc files embedded in the binary — and the codec that writes
// and reads them: Confluent wire format with registration when a schema registry is configured,
// Avro single-object encoding otherwise. It must never lose precision: amounts are Avro decimals,
// never floating point, and a value that does not fit its decimal is refused, never rounded.
//
// The schema registered and written is composed when the codec is made: webhook_event.avsc
// with its data union filled by triggers/<Trigger>.avsc, each shared type of types/*.avsc
// defined where it is first used. testdata/webhook_event.golden.avsc holds the result; after
// editing any .avsc file, check the difference and rewrite it with go test ./schemas -update.
package schemas
