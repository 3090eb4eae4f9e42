package failpoint

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// Env is the environment variable that arms failpoints: a comma-separated list of point:n, each
// meaning "die the n-th time this point is passed" (n ≥ 1; ":n" may be left out for 1).
const Env = "LOYALTYHOOKS_FAILPOINT"

// The points the processor passes, in the order of one batch's work.
const (
	// AfterLookupsFlush: the batch's lookup rows are written to Redis; nothing is claimed or
	// produced yet.
	AfterLookupsFlush = "after-lookups-flush"
	// AfterClaims: every event of the batch holds its claim in Redis; nothing is produced yet.
	AfterClaims = "after-claims-before-produce"
	// AfterProduce: the batch's records are flushed into the open transaction, which is not
	// committed yet.
	AfterProduce = "after-produce-before-commit"
)

// Points lists every point a process can be armed with.
var Points = []string{AfterLookupsFlush, AfterClaims, AfterProduce}

// armed maps each armed point to the number of passes left before the kill; nil when none is.
var armed = mustParse(os.Getenv(Env))

// Hit marks one pass through the point; the pass that an armed point counts down to kills the
// process and never returns.
func Hit(point string) {
	if armed == nil {
		return
	}
	left, ok := armed[point]
	if !ok || left.Add(-1) != 0 {
		return
	}
	fmt.Fprintf(os.Stderr, "failpoint %s reached: killing process %d\n", point, os.Getpid())
	self, err := os.FindProcess(os.Getpid())
	if err == nil {
		err = self.Kill()
	}
	if err != nil {
		// A failpoint that cannot kill must not let the process carry on as if it had.
		panic(fmt.Sprintf("failpoint %s: kill: %v", point, err))
	}
	select {} // the signal is on its way
}

// Parse reads a LOYALTYHOOKS_FAILPOINT value into points and their counts.
func Parse(spec string) (map[string]int64, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	out := map[string]int64{}
	for item := range strings.SplitSeq(spec, ",") {
		name, count, hasCount := strings.Cut(strings.TrimSpace(item), ":")
		n := int64(1)
		if hasCount {
			var err error
			if n, err = strconv.ParseInt(count, 10, 64); err != nil || n < 1 {
				return nil, fmt.Errorf("%s: %q: the count must be a positive integer", Env, item)
			}
		}
		if !slices.Contains(Points, name) {
			return nil, fmt.Errorf("%s: %q is not a failpoint (known: %s)", Env, name, strings.Join(Points, ", "))
		}
		out[name] = n
	}
	return out, nil
}

// mustParse arms the points of spec. A malformed spec is a mistake of the test that set it, and
// running on unarmed would hide it: the process stops at once.
func mustParse(spec string) map[string]*atomic.Int64 {
	points, err := Parse(spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if len(points) == 0 {
		return nil
	}
	out := make(map[string]*atomic.Int64, len(points))
	for name, n := range points {
		out[name] = new(atomic.Int64)
		out[name].Store(n)
	}
	return out
}
