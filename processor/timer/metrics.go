package timer

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the timers' Prometheus metrics, under the processor's loyaltyhooks_processor_
// prefix. The processor registers them with its own.
type Metrics struct {
	Writes      *prometheus.CounterVec
	Due         *prometheus.CounterVec
	Expired     *prometheus.CounterVec
	Stale       *prometheus.CounterVec
	DeferredDue prometheus.Counter
	TickSeconds prometheus.Histogram
	LastTick    prometheus.Gauge
}

// NewMetrics creates the metrics, unregistered.
func NewMetrics() *Metrics {
	return &Metrics{
		Writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_processor_timer_writes_total",
			Help: "Timers written as changes were read, by op (schedule, cancel).",
		}, []string{"op"}),
		Due: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_processor_timers_due_total",
			Help: "Due records written to the timers topic, by trigger.",
		}, []string{"trigger"}),
		Expired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_processor_timers_expired_total",
			Help: "Timers dropped without firing because their expiry passed first (the scans stopped for longer than the notification window), by trigger.",
		}, []string{"trigger"}),
		Stale: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_processor_timers_stale_total",
			Help: "Due records that gave no event: the entity no longer qualified with that expiry, or the expiry passed before the record was read, by trigger.",
		}, []string{"trigger"}),
		DeferredDue: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loyaltyhooks_processor_deferred_due_total",
			Help: "Due records of deferred changes written to the timers topic: attempts of changes waiting for a lookup row.",
		}),
		TickSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "loyaltyhooks_processor_timer_tick_seconds",
			Help:    "Time of one scan of the owned timer shards, due records written and timers removed.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		LastTick: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loyaltyhooks_processor_timer_last_tick_timestamp_seconds",
			Help: "Clock time of the last scan that completed; a stale value means timers are not firing.",
		}),
	}
}

// Collectors returns every metric, for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Writes, m.Due, m.Expired, m.Stale, m.DeferredDue, m.TickSeconds, m.LastTick}
}
