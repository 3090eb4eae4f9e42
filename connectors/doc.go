// Package connectors holds what a deployment needs on the database side of loyaltyhooks: the
// reference schema of the loyalty database as PostgreSQL DDL (with REPLICA IDENTITY FULL and the
// "loyaltyhooks" publication) and the Kafka Connect configurations of Debezium's PostgreSQL
// connector, one per source format. The files are embedded so that tests and tooling read the
// very files operators apply. It only describes the source; it must never connect to a database
// or to Kafka Connect itself, and must never drift from CONTRACT §1, which its tests check.
package connectors
