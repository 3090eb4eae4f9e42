// Package pgtest gives a test its own freshly created PostgreSQL database, driven through the
// psql client, so that the reference schema and data written against it are checked by a real
// server without a Go driver. The server comes from PGHOST, PGPORT and PGUSER (default
// 127.0.0.1:5432, user postgres, trust auth). A server or client that is not there fails the
// test, never skips it. It must never touch a database it did not create: it drops only its own.
package pgtest
