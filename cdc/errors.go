package cdc

import (
	"errors"
	"fmt"
)

// Reasons a record is poison: it can never be decoded, however often it is retried.
const (
	ReasonUndecodable     = "undecodable"       // not JSON / not Avro / not a Debezium envelope
	ReasonUnknownTable    = "unknown-table"     // the topic is not one of the mapped tables
	ReasonUnknownSchemaID = "unknown-schema-id" // the registry does not know the writer schema
	ReasonBadValue        = "bad-value"         // a value that cannot be read exactly as its type
	ReasonMissingField    = "missing-field"     // a field the operation requires is absent
)

// PoisonError is a record the decoder can never read. The processor sends it to the dead-letter
// topic with Reason in its headers and moves on. Every other error from Decode is transient:
// retrying the batch may succeed.
type PoisonError struct {
	Reason string
	Err    error
}

func (e *PoisonError) Error() string { return "cdc " + e.Reason + ": " + e.Err.Error() }

func (e *PoisonError) Unwrap() error { return e.Err }

// IsPoison reports whether err is or wraps a PoisonError and returns it.
func IsPoison(err error) (*PoisonError, bool) {
	var p *PoisonError
	ok := errors.As(err, &p)
	return p, ok
}

// fault is a poison condition found below Decode, before the record coordinates are known.
type fault struct {
	reason string
	column string // set for value errors
	err    error
}

func (f *fault) Error() string {
	if f.column != "" {
		return "column " + f.column + ": " + f.err.Error()
	}
	return f.err.Error()
}

func (f *fault) Unwrap() error { return f.err }

func faultf(reason, format string, args ...any) *fault {
	return &fault{reason: reason, err: fmt.Errorf(format, args...)}
}

// badValue is the fault of a column value that cannot be read as its type.
func badValue(column string, err error) *fault {
	return &fault{reason: ReasonBadValue, column: column, err: err}
}

// badField is the fault of an envelope field (op, ts_ms, source.*) that cannot be read.
func badField(name string, err error) *fault {
	return &fault{reason: ReasonBadValue, err: fmt.Errorf("%s: %w", name, err)}
}

var errSyntax = errors.New("malformed JSON")
