//go:build race

package schemas

// raceEnabled skips allocation counts, which the race detector changes.
const raceEnabled = true
