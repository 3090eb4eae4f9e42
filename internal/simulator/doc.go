// Package simulator is a simulated loyalty database for the demo and for tests: it keeps the
// rows of the reference schema (CONTRACT §1) for a few stores and, driven by a seeded random
// source and a clock, performs the business actions of a loyalty programme — registrations,
// activation and reset codes, profile and tier changes, purchases, points added, spent,
// transferred and expired, rewards bought and fulfilled, campaign effects — each written as the
// row changes of one database transaction, the way Debezium's PostgreSQL connector would report
// them with REPLICA IDENTITY FULL. It hands out cdc.Change values with logical names and leaves
// the wire format to an encoder. It must never draw on anything but its seed and its clock (no
// wall-clock reads of its own, no map iteration order): the same seed and clock give the same
// changes.
package simulator
