package processor

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loyaltyhooks/loyaltyhooks/processor/timer"
)

// Metrics are the processor's Prometheus metrics, all under the loyaltyhooks_ prefix.
type Metrics struct {
	RecordsConsumed     *prometheus.CounterVec
	RecordsSkipped      *prometheus.CounterVec
	EventsProduced      *prometheus.CounterVec
	DuplicatesDropped   prometheus.Counter
	LookupMisses        *prometheus.CounterVec
	DeadLetters         *prometheus.CounterVec
	BatchSeconds        prometheus.Histogram
	ClaimSeconds        prometheus.Histogram
	CDCLagSeconds       prometheus.Gauge
	TransactionsAborted *prometheus.CounterVec
	// Rebalances counts the rebalances that changed this instance's partitions, by change
	// (assigned, revoked, lost); AssignedPartitions is how many partitions it owns.
	Rebalances         *prometheus.CounterVec
	AssignedPartitions prometheus.Gauge
	// RedisUnavailable is 1 while the processor waits for Redis with fetching paused.
	RedisUnavailable        prometheus.Gauge
	RedisUnavailableSeconds prometheus.Counter
	// TopicsHeldForReferences is how many source topics are not fetched while the lookup
	// topics they need catch up (processor.referenceLag).
	TopicsHeldForReferences prometheus.Gauge
	// Changes deferred because a lookup row their events need had not arrived, by what they
	// waited for: a lookup table, or "order" for an earlier deferred change of the same row.
	DeferredChanges     *prometheus.CounterVec
	DeferredWaitSeconds *prometheus.HistogramVec
	DeferredAfterGrace  *prometheus.CounterVec
	// Timers are the expiry timers' metrics.
	Timers *timer.Metrics
	// BatchPhaseSeconds is the time of each phase of a batch (PhaseNames), where a batch's time
	// goes.
	BatchPhaseSeconds *prometheus.HistogramVec
	phases            [phaseCount]prometheus.Observer
}

// The phases of a batch, in order; PhaseNames gives their BatchPhaseSeconds labels.
const (
	phaseDecode  = iota // decoding the records
	phaseLookups        // fetching the lookup rows the batch refers to
	phaseHolds          // reading the holds of the batch's rows (earlier deferred changes)
	phaseRules          // classifying the changes and building the events
	phaseStore          // writing back the lookup rows and timers the batch changed
	phaseEncode         // encoding the events
	phaseDefer          // storing the deferred changes
	phaseClaim          // claiming the events' message ids
	phaseProduce        // writing the records into the open transaction
	phaseCommit         // committing the transaction with the batch's offsets
	phaseCount
)

// PhaseNames are the values of BatchPhaseSeconds' phase label, in the order of a batch.
var PhaseNames = [phaseCount]string{"decode", "lookups", "holds", "rules", "store", "encode", "defer",
	"claim", "produce", "commit"}

// phase observes the time since *start as phase's and restarts the clock.
func (m *Metrics) phase(start *time.Time, phase int) {
	now := time.Now()
	m.phases[phase].Observe(now.Sub(*start).Seconds())
	*start = now
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Timers: timer.NewMetrics(),
		RecordsConsumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_processor_records_consumed_total",
			Help: "Change records consumed, by logical table.",
		}, []string{"table"}),
		RecordsSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_processor_records_skipped_total",
			Help: "Records that carry no change (tombstones, heartbeats), by topic.",
		}, []string{"topic"}),
		EventsProduced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_processor_events_produced_total",
			Help: "Webhook events produced, by trigger (counted when the transaction commits).",
		}, []string{"trigger"}),
		DuplicatesDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loyaltyhooks_processor_duplicates_dropped_total",
			Help: "Events dropped because their message id was already claimed by another change, counted when their batch commits.",
		}),
		LookupMisses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_processor_lookup_misses_total",
			Help: "Lookups that found no row, by logical table; the event carries nulls instead.",
		}, []string{"table"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_processor_dead_letters_total",
			Help: "Records sent to the CDC dead-letter topic, by reason.",
		}, []string{"reason"}),
		BatchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "loyaltyhooks_processor_batch_seconds",
			Help:    "Time to process one polled batch, from poll to committed transaction.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		ClaimSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "loyaltyhooks_processor_claim_seconds",
			Help:    "Round-trip time of one batch's dedup claims to Redis.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		CDCLagSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loyaltyhooks_processor_cdc_lag_seconds",
			Help: "Now minus source.ts_ms of the last change processed.",
		}),
		TransactionsAborted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_processor_transactions_aborted_total",
			Help: "Transactions aborted, by cause (rebalance, transient error).",
		}, []string{"cause"}),
		RedisUnavailable: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loyaltyhooks_processor_redis_unavailable",
			Help: "1 while Redis does not answer and the processor waits with fetching paused, else 0.",
		}),
		RedisUnavailableSeconds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loyaltyhooks_processor_redis_unavailable_seconds_total",
			Help: "Time spent waiting for an unavailable Redis, fetching paused.",
		}),
		TopicsHeldForReferences: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loyaltyhooks_processor_topics_held_for_references",
			Help: "Source topics not fetched while the lookup topics their triggers need lag more than processor.referenceLag.",
		}),
		Rebalances: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_processor_rebalances_total",
			Help: "Rebalances that changed this instance's partitions, by change (assigned, revoked, lost).",
		}, []string{"change"}),
		AssignedPartitions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loyaltyhooks_processor_assigned_partitions",
			Help: "Partitions this instance owns now, of every topic it consumes.",
		}),
		DeferredChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_processor_deferred_changes_total",
			Help: "Changes deferred at first sight because a lookup row their events need had not arrived, by lookup table (\"order\": held behind an earlier deferred change of the same row).",
		}, []string{"lookup"}),
		DeferredWaitSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "loyaltyhooks_processor_deferred_wait_seconds",
			Help:    "Time from a change's first deferral to its events going out, by what it waited for at first.",
			Buckets: prometheus.ExponentialBuckets(0.25, 2, 12),
		}, []string{"lookup"}),
		DeferredAfterGrace: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_processor_deferred_after_grace_total",
			Help: "Deferred changes whose events went out after the grace with a lookup row still missing (nulls in its place), by lookup table.",
		}, []string{"lookup"}),
	}
	m.BatchPhaseSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "loyaltyhooks_processor_batch_phase_seconds",
		Help:    "Time of each phase of a batch: decode, lookups, holds, rules, store, encode, defer, claim, produce, commit.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9),
	}, []string{"phase"})
	for i, name := range PhaseNames {
		m.phases[i] = m.BatchPhaseSeconds.WithLabelValues(name)
	}
	if reg != nil {
		reg.MustRegister(m.BatchPhaseSeconds)
		reg.MustRegister(m.Timers.Collectors()...)
		reg.MustRegister(m.Rebalances, m.AssignedPartitions)
		reg.MustRegister(m.RedisUnavailable, m.RedisUnavailableSeconds, m.TopicsHeldForReferences)
		reg.MustRegister(m.DeferredChanges, m.DeferredWaitSeconds, m.DeferredAfterGrace)
		reg.MustRegister(m.RecordsConsumed, m.RecordsSkipped, m.EventsProduced, m.DuplicatesDropped,
			m.LookupMisses, m.DeadLetters, m.BatchSeconds, m.ClaimSeconds, m.CDCLagSeconds, m.TransactionsAborted)
	}
	return m
}

// partitionsChanged follows a rebalance's effect on this instance: the partition count behind
// Assigned and readiness, the assigned-partitions gauge and the rebalance counter. It runs in
// franz-go's rebalance callbacks, so it must never block.
func (p *Processor) partitionsChanged(change string, m map[string][]int32) {
	n := int64(count(m))
	if change != "assigned" {
		n = -n
	}
	p.metrics.AssignedPartitions.Set(float64(p.assigned.Add(n)))
	p.metrics.Rebalances.WithLabelValues(change).Inc()
}
