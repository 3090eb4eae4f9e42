package ops

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// KafkaMetrics returns a kgo hook exposing franz-go's client metrics (connections, bytes,
// batches, request latency, buffered records) as loyaltyhooks_kafka_*, registered with reg while
// a client that uses it is open. Any number of a process's clients may share it, opened and
// closed in any order: their traffic adds up in one set of metrics.
func KafkaMetrics(reg prometheus.Registerer) kgo.Hook {
	return &sharedKafkaMetrics{Metrics: kprom.NewMetrics("loyaltyhooks", kprom.Registerer(reg), kprom.Subsystem("kafka"))}
}

// sharedKafkaMetrics lets several clients use one kprom.Metrics, which registers its collectors
// when a client opens and unregisters them when it closes, so that a second open client would
// register them twice: only the first client to open registers, and the last to close
// unregisters. Every other hook goes straight to kprom.
type sharedKafkaMetrics struct {
	*kprom.Metrics
	mu   sync.Mutex
	open int
}

func (s *sharedKafkaMetrics) OnNewClient(cl *kgo.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open == 0 {
		s.Metrics.OnNewClient(cl)
	}
	s.open++
}

func (s *sharedKafkaMetrics) OnClientClosed(cl *kgo.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open--
	if s.open == 0 {
		s.Metrics.OnClientClosed(cl)
	}
}
