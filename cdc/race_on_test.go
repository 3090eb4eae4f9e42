//go:build race

package cdc_test

// raceEnabled skips allocation counts, which the race detector changes.
const raceEnabled = true
