// Package ops is what operators watch and probe on a running process: the HTTP server of
// /metrics, /healthz and /readyz, readiness checks (partitions assigned, broker and Redis
// reachable), consumer-group lag read through kadm as Prometheus metrics, franz-go's client
// metrics, and the shutdown budget. It observes and never acts: it must never commit offsets,
// join a group or write a record.
package ops
