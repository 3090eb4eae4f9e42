// Package faultsuite is the fault-injection suite of the processor: its tests run the real
// `loyaltyhooks process` binary as subprocesses against an in-process Kafka broker (kfake) and a
// private redis-server, crash them (failpoints, random SIGKILLs), rebalance them, take Redis away,
// redeliver changes the way Debezium does, and then count every webhook event by messageId
// against the events the change stream must yield: each exactly once. It also runs the suite
// against deliberately broken claimers to show that it notices. The package holds tests only; it
// must never be imported, and nothing in it may reach beyond the loopback interface.
package faultsuite
