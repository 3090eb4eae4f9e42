// Package rules decides which webhook events a row change triggers and builds each event's data.
// The row-driven triggers of the contract are one declarative table (rules.go): the table and
// operations a trigger watches, its condition on the before and after images, the lookups it
// needs and the builder of its data record, which follows schemas/triggers/<Trigger>.avsc. It is
// a pure function of the change and the lookup view: it must never perform I/O, read the clock,
// or treat an unavailable value as a change, and a missing lookup row yields nulls, never an
// error.
package rules
