// Package failpoint lets the fault-injection suite crash a process at a named point of its work.
// When the environment variable LOYALTYHOOKS_FAILPOINT names a point (for example
// "after-claims-before-produce:3"), the process kills itself with SIGKILL the n-th time it passes
// there, as a power cut would. It must never do anything else: with the variable unset, passing a
// point costs one nil check, and no configuration file or flag can arm one.
package failpoint
