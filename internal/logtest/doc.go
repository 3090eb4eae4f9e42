// Package logtest is a destination for logs and command output in tests that a test can wait
// on: it returns when a text has been written, instead of sleeping. It is for tests only.
package logtest
