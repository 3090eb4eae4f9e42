package ops

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
)

// Lag is a Prometheus collector of consumer-group lag: at each scrape it asks the cluster, through
// kadm, how far each group's committed offsets trail the end of each partition. On a
// transactional topic that is fully consumed the lag reads 1 per partition (the commit marker),
// so alert on a threshold, not on zero. Every replica of a component reports the same group: take
// max by (group, topic, partition) in queries.
type Lag struct {
	adm     *kadm.Client
	groups  []string
	timeout time.Duration
	log     *slog.Logger
	lag     *prometheus.Desc
	errors  *prometheus.CounterVec
}

// NewLag reports the lag of groups. kadm lists only classic groups unless named, so they are
// named here. Each scrape waits at most timeout for the cluster.
func NewLag(adm *kadm.Client, groups []string, timeout time.Duration, log *slog.Logger) *Lag {
	return &Lag{
		adm: adm, groups: groups, timeout: timeout, log: log,
		lag: prometheus.NewDesc("loyaltyhooks_consumer_lag",
			"Records between a group's committed offset and the end of a partition, read through kadm at scrape time.",
			[]string{"group", "topic", "partition"}, nil),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loyaltyhooks_consumer_lag_errors_total",
			Help: "Scrapes that could not read a group's lag.",
		}, []string{"group"}),
	}
}

// Describe implements prometheus.Collector.
func (l *Lag) Describe(ch chan<- *prometheus.Desc) {
	ch <- l.lag
	l.errors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (l *Lag) Collect(ch chan<- prometheus.Metric) {
	defer l.errors.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	lags, err := l.adm.Lag(ctx, l.groups...)
	if err != nil {
		l.failed(l.groups, err)
		return
	}
	for _, g := range l.groups {
		gl := lags[g]
		if err := gl.Error(); err != nil {
			l.failed([]string{g}, err)
			continue
		}
		for topic, parts := range gl.Lag {
			for p, ml := range parts {
				if ml.Err != nil || ml.Lag < 0 {
					continue
				}
				ch <- prometheus.MustNewConstMetric(l.lag, prometheus.GaugeValue, float64(ml.Lag), g, topic, strconv.Itoa(int(p)))
			}
		}
	}
}

func (l *Lag) failed(groups []string, err error) {
	for _, g := range groups {
		l.errors.WithLabelValues(g).Inc()
		l.log.Warn("consumer lag not read", "group", g, "err", err)
	}
}

// WaitCaughtUp polls every interval until group has committed an offset on every partition it
// consumes and its lag over them is zero, or ctx ends (its error is returned).
func WaitCaughtUp(ctx context.Context, adm *kadm.Client, group string, every time.Duration) error {
	for {
		lags, err := adm.Lag(ctx, group)
		if err == nil {
			l := lags[group]
			if l.Error() == nil && !l.Lag.IsEmpty() && l.Lag.Total() == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}
