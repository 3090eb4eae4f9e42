// Package cdc turns Debezium change events — JSON with or without embedded schemas, and Avro in
// the Confluent wire format — into one Change type with typed values and the logical table and
// column names of the config mapping. Nothing downstream of it knows which wire format or which
// physical names a change came with. It also holds the reference schema of CONTRACT §1
// (Reference), the one description of the tables that the DDL, the demo's database and the
// reading of schemaless JSON share. It must never guess: a value it cannot read exactly is an
// error naming the topic, offset and column, not a default.
package cdc
