package processor

import "github.com/prometheus/client_golang/prometheus"

// batchCounts holds what a batch counts until its transaction ends: counted when it commits,
// dropped when it aborts, so that a batch polled again after an abort is counted once.
type batchCounts struct {
	adds         map[prometheus.Counter]float64
	observations []observation
}

type observation struct {
	to    prometheus.Observer
	value float64
}

// add holds n to add to c.
func (b *batchCounts) add(c prometheus.Counter, n float64) {
	if b.adds == nil {
		b.adds = map[prometheus.Counter]float64{}
	}
	b.adds[c] += n
}

// inc holds one to add to c.
func (b *batchCounts) inc(c prometheus.Counter) { b.add(c, 1) }

// observe holds v to observe in o.
func (b *batchCounts) observe(o prometheus.Observer, v float64) {
	b.observations = append(b.observations, observation{o, v})
}

// count counts everything held, and holds nothing more.
func (b *batchCounts) count() {
	for c, n := range b.adds {
		c.Add(n)
	}
	for _, o := range b.observations {
		o.to.Observe(o.value)
	}
	b.drop()
}

// drop forgets everything held.
func (b *batchCounts) drop() {
	clear(b.adds)
	b.observations = b.observations[:0]
}
