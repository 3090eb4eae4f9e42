package sender

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/loyaltyhooks/loyaltyhooks/sender/endpoint"
)

// Metrics are the sender's Prometheus metrics, all under the loyaltyhooks_sender_ prefix. No
// label names a member, a subscription or an endpoint: their number is not bounded.
type Metrics struct {
	RecordsConsumed    *prometheus.CounterVec
	Attempts           *prometheus.CounterVec
	AttemptSeconds     prometheus.Histogram
	DeliveredLag       prometheus.Histogram
	Skipped            *prometheus.CounterVec
	RetriesScheduled   *prometheus.CounterVec
	DeadLetters        *prometheus.CounterVec
	RetryBacklog       *prometheus.GaugeVec
	DeliveriesInFlight prometheus.Gauge
	RedisErrors        *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, endpoints *endpoint.Registry) *Metrics {
	m := &Metrics{
		RecordsConsumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_sender_records_consumed_total",
			Help: "Records taken up for delivery, by lane (main: the webhook topic; else the retry tier).",
		}, []string{"lane"}),
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_sender_attempts_total",
			Help: "Delivery attempts by outcome (delivered, failed, error, timeout, refused, invalid, breaker_open, deferred) and HTTP status class (2xx…5xx, none).",
		}, []string{"outcome", "status_class"}),
		AttemptSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "loyaltyhooks_sender_attempt_seconds",
			Help:    "Duration of HTTP attempts, from connecting to the end of the response read.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
		DeliveredLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "loyaltyhooks_sender_delivery_latency_seconds",
			Help:    "From the event's createdAt to its successful delivery, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 16),
		}),
		Skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_sender_deliveries_skipped_total",
			Help: "Deliveries not attempted: already_delivered (remembered in Redis), subscription_gone (deleted or inactive before a retry).",
		}, []string{"reason"}),
		RetriesScheduled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_sender_retries_scheduled_total",
			Help: "Deliveries handed to a retry tier, by tier.",
		}, []string{"tier"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_sender_dead_letters_total",
			Help: "Deliveries or records sent to the dead-letter topic, by reason (exhausted, refused, invalid, undecodable).",
		}, []string{"reason"}),
		RetryBacklog: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "loyaltyhooks_sender_retry_backlog_records",
			Help: "Records waiting in the retry tier partitions this instance owns, by tier.",
		}, []string{"tier"}),
		DeliveriesInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loyaltyhooks_sender_deliveries_in_flight",
			Help: "Deliveries started and not finished: waiting for their turn, attempting, or handing on.",
		}),
		RedisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_sender_redis_errors_total",
			Help: "Failed Redis operations on the delivered memory, by operation (check, remember).",
		}, []string{"op"}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.RecordsConsumed, m.Attempts, m.AttemptSeconds, m.DeliveredLag, m.Skipped,
		m.RetriesScheduled, m.DeadLetters, m.RetryBacklog, m.DeliveriesInFlight, m.RedisErrors)
	for _, s := range endpoint.States {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "loyaltyhooks_sender_breaker_endpoints",
			Help:        "Endpoints whose circuit breaker is in each state (closed, open, half_open).",
			ConstLabels: prometheus.Labels{"state": s.String()},
		}, func() float64 { return float64(endpoints.Count(s)) }))
	}
	return m
}
