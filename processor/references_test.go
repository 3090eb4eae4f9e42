package processor_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/processor"
	"github.com/loyaltyhooks/loyaltyhooks/processor/rules"
)

// TestBacklogReadsLookupsFirst: a backlog whose member_code changes need members that come at
// the end of the member topic's backlog, read in batches of 50. Held back while the member topic
// lags, the member_code topic is read once the members are in: no change waits, every event
// carries its member. The backlog is also read lookups first with a limit far above its lag: at
// assignment, a lookup topic lagging less than the limit is read up to its end of then first. With
// processor.referenceLag 0 the same backlog defers changes — what the hold saves.
func TestBacklogReadsLookupsFirst(t *testing.T) {
	const members, codes = 600, 40
	for _, tc := range []struct {
		referenceLag int64
		deferred     bool
	}{{referenceLag: 20}, {referenceLag: 100_000}, {referenceLag: 0, deferred: true}} {
		t.Run(fmt.Sprintf("referenceLag=%d", tc.referenceLag), func(t *testing.T) {
			e := newTimerEnv(t)
			e.cfg.Processor.MaxPollRecords = 50
			e.cfg.Processor.ReferenceLag = tc.referenceLag
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			e.snapshot()
			for i := range members {
				m := id('e', i)
				e.change("member", cdc.OpRead, m, nil, row("member_id", m, "tenant_id", tenantID, "active", false,
					"email", fmt.Sprintf("m%d@example.com", i), "phone", nil, "loyalty_card_number", fmt.Sprint("CARD-", i)))
			}
			for i := range codes {
				code := fmt.Sprintf("c0000000-0000-4000-8000-%012d", i)
				e.change("member_code", cdc.OpCreate, code, nil, memberCodeRow(code, id('e', members-1-i), "registration"))
			}
			// Small fetches: the member topic's backlog takes many, the member codes come in the
			// first, as they would behind a real backlog.
			p := e.start(ctx, "it-1", processor.WithKafkaOptions(kgo.FetchMaxPartitionBytes(8<<10)))
			e.caughtUp(ctx)

			m := p.Metrics()
			// Counted when their batches commit: awaited where some are wanted.
			want := 0.0
			if tc.deferred {
				want = 1
			}
			deferred := awaitCounter(ctx, t, want, m.DeferredChanges.WithLabelValues("member"), m.DeferredChanges.WithLabelValues("tenant"))
			if tc.deferred != (deferred > 0) {
				t.Fatalf("%v changes deferred for their member or tenant", deferred)
			}
			if tc.deferred {
				return
			}
			ws := only(e.webhooks(ctx), rules.CustomerWasRegisteredWithoutActivation)
			if len(ws) != codes {
				t.Fatalf("%d events of the member codes, want %d", len(ws), codes)
			}
			for _, w := range ws {
				customer, _ := w.Data["customer"].(map[string]any)
				if customer == nil || customer["email"] == nil || w.StoreCode != "DEFAULT" {
					t.Errorf("event of %s lacks its member or store: %v", w.key, w.Data)
				}
			}
			var held dto.Metric
			if err := m.TopicsHeldForReferences.Write(&held); err != nil {
				t.Fatal(err)
			}
			if n := held.GetGauge().GetValue(); n != 0 {
				t.Errorf("%v topics still held back once caught up", n)
			}
		})
	}
}
