package timer

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/processor/lookup"
)

// Trigger is an expiry trigger as a scan sees it: its name and the settings column that holds a
// tenant's notification window in days.
type Trigger struct {
	Name       string
	DaysColumn string
}

// Config is what a Ticker works with.
type Config struct {
	Store *Store
	// Lookups holds the settings rows, whose notification days are read at every scan: a change
	// of N applies to timers already scheduled.
	Lookups     *lookup.Store
	Topic       string
	Triggers    []Trigger
	DefaultDays int // N for a tenant whose settings row does not say
	MaxPerTick  int
	Clock       Clock
	Metrics     *Metrics
	Log         *slog.Logger
	// AfterProduce, when set, runs between writing a scan's due records and removing their
	// timers: the window in which a crash or a rebalance makes a due record be written twice.
	AfterProduce func()
}

// Ticker scans, on every tick, the timer shards of the timers-topic partitions this instance
// owns, writes a due record per timer and per deferred change due, and then removes them.
type Ticker struct {
	cfg      Config
	producer *kgo.Client
	mu       sync.Mutex
	owned    map[int32]bool
	turn     int          // rotates where a scan starts, so a full budget does not starve a set
	last     atomic.Int64 // clock time of the last completed scan, Unix microseconds
}

// NewTicker returns a ticker that owns no partition yet.
func NewTicker(cfg Config) *Ticker {
	return &Ticker{cfg: cfg, owned: map[int32]bool{}}
}

// Own adds partitions of the timers topic that the consumer group assigned to this instance.
func (t *Ticker) Own(partitions []int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range partitions {
		t.owned[p] = true
	}
}

// Disown removes partitions that were revoked or lost.
func (t *Ticker) Disown(partitions []int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range partitions {
		delete(t.owned, p)
	}
}

// DisownAll forgets every partition, when the instance leaves the group.
func (t *Ticker) DisownAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.owned)
}

func (t *Ticker) ownedPartitions() []int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]int32, 0, len(t.owned))
	for p := range t.owned {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// LastTick is the clock time of the last scan that completed; zero before the first.
func (t *Ticker) LastTick() time.Time {
	us := t.last.Load()
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// Run scans every period until ctx ends, writing due records with producer, which must place
// records on the partition they name (kgo.ManualPartitioner) and must not be transactional: a due
// record stands on its own. A scan in hand when ctx ends is finished within budget, so that the
// timers whose due records it wrote are also removed.
func (t *Ticker) Run(ctx context.Context, producer *kgo.Client, every, budget time.Duration) {
	t.producer = producer
	ticks, stop := t.cfg.Clock.Ticks(every)
	defer stop()
	var failing string // the last failure's text: a lasting outage is said once, not every tick
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
		work, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
		err := t.tick(work)
		cancel()
		switch {
		case err != nil && err.Error() != failing:
			failing = err.Error()
			t.cfg.Log.Warn("timer scan failed; the next ticks try again", "err", err)
		case err == nil && failing != "":
			failing = ""
			t.cfg.Log.Info("timer scans work again")
		}
	}
}

// tick runs one scan at the clock's time now.
func (t *Ticker) tick(ctx context.Context) error {
	now := t.cfg.Clock.Now()
	start := time.Now()
	if err := t.scan(ctx, now); err != nil {
		return err
	}
	t.last.Store(now.UnixMicro())
	t.cfg.Metrics.LastTick.Set(float64(now.UnixMicro()) / 1e6)
	t.cfg.Metrics.TickSeconds.Observe(time.Since(start).Seconds())
	return nil
}

func (t *Ticker) scan(ctx context.Context, now time.Time) error {
	owned := t.ownedPartitions()
	if len(owned) == 0 {
		return nil
	}
	partitions, err := t.partitions(ctx)
	if err != nil {
		return err
	}
	shards := OwnedShards(owned, partitions)
	if err := t.scanExpiries(ctx, now, shards, partitions); err != nil {
		return err
	}
	return t.scanDeferred(ctx, now, shards, partitions)
}

// scanExpiries writes the due records of the expiry timers due in the shards.
func (t *Ticker) scanExpiries(ctx context.Context, now time.Time, shards []int, partitions int) error {
	scans, err := t.plan(ctx, now, shards)
	if err != nil || len(scans) == 0 {
		return err
	}
	t.turn = (t.turn + 1) % len(scans)
	scans = slices.Concat(scans[t.turn:], scans[:t.turn])
	res, err := t.cfg.Store.Scan(ctx, now, scans, t.cfg.MaxPerTick)
	if err != nil {
		return err
	}
	for trigger, n := range res.Expired {
		t.cfg.Metrics.Expired.WithLabelValues(trigger).Add(float64(n))
		t.cfg.Log.Warn("timers dropped unfired: their expiry passed before they were scanned", "trigger", trigger, "timers", n)
	}
	if len(res.Due) == 0 {
		return nil
	}
	recs := make([]*kgo.Record, len(res.Due))
	for i, d := range res.Due {
		due := Due{Kind: KindExpiry, Tenant: d.Tenant, Trigger: d.Trigger, Entity: d.Entity, ExpiresAt: d.At, DueAt: now}
		recs[i] = &kgo.Record{Topic: t.cfg.Topic, Partition: int32(Shard(d.Entity) % partitions),
			Key: []byte(d.Entity), Value: due.Encode()}
	}
	if err := t.producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("write %d due records: %w", len(recs), err)
	}
	for _, d := range res.Due {
		t.cfg.Metrics.Due.WithLabelValues(d.Trigger).Inc()
	}
	if t.cfg.AfterProduce != nil {
		t.cfg.AfterProduce()
	}
	return t.cfg.Store.Fired(ctx, res.Due)
}

// scanDeferred writes the due records of the deferred changes due in the shards, each to the
// partition that owns its shard, in the order they came due within a shard, and then removes
// them. A crash in between writes them twice, which the claims absorb.
func (t *Ticker) scanDeferred(ctx context.Context, now time.Time, shards []int, partitions int) error {
	found, err := t.cfg.Store.scanDeferred(ctx, now, shards, t.cfg.MaxPerTick)
	if err != nil || len(found) == 0 {
		return err
	}
	recs := make([]*kgo.Record, 0, len(found))
	for _, d := range found {
		if d.record == nil {
			continue // removed between the scan's two reads: nothing to write, nothing to keep
		}
		recs = append(recs, &kgo.Record{Topic: t.cfg.Topic, Partition: int32(d.shard % partitions),
			Key: []byte(d.id), Value: d.record})
	}
	if len(recs) > 0 {
		if err := t.producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("write %d due records of deferred changes: %w", len(recs), err)
		}
		t.cfg.Metrics.DeferredDue.Add(float64(len(recs)))
		if t.cfg.AfterProduce != nil {
			t.cfg.AfterProduce()
		}
	}
	return t.cfg.Store.takeDeferred(ctx, found)
}

// partitions is the timers topic's partition count, read at every scan so that a grown topic is
// seen as soon as the client's metadata is.
func (t *Ticker) partitions(ctx context.Context) (int, error) {
	topics, err := kadm.NewClient(t.producer).ListTopics(ctx, t.cfg.Topic)
	if err != nil {
		return 0, fmt.Errorf("timers topic metadata: %w", err)
	}
	d, ok := topics[t.cfg.Topic]
	if !ok || d.Err != nil {
		return 0, fmt.Errorf("timers topic %s: %v", t.cfg.Topic, d.Err)
	}
	return len(d.Partitions), nil
}

// plan lists the sets to scan, each with the horizon of its tenant's notification window.
func (t *Ticker) plan(ctx context.Context, now time.Time, shards []int) ([]Scan, error) {
	if len(shards) == 0 {
		return nil, nil
	}
	tenants, err := t.cfg.Store.Tenants(ctx)
	if err != nil || len(tenants) == 0 {
		return nil, err
	}
	slices.Sort(tenants)
	settings := lookup.NewView()
	refs := make([]lookup.Ref, len(tenants))
	for i, tenant := range tenants {
		refs[i] = lookup.Ref{Table: "settings", Key: tenant}
	}
	if err := t.cfg.Lookups.Fetch(ctx, settings, refs); err != nil {
		return nil, err
	}
	scans := make([]Scan, 0, len(tenants)*len(t.cfg.Triggers)*len(shards))
	for _, tenant := range tenants {
		row := settings.Row("settings", tenant)
		for _, trig := range t.cfg.Triggers {
			horizon := now.Add(time.Duration(t.days(row, trig.DaysColumn)) * 24 * time.Hour)
			for _, s := range shards {
				scans = append(scans, Scan{Set: Set{Tenant: tenant, Trigger: trig.Name, Shard: s}, Horizon: horizon})
			}
		}
	}
	return scans, nil
}

// days is a tenant's notification window from its settings row, else the default.
func (t *Ticker) days(settings *cdc.Row, column string) int {
	if v := settings.Get(column); v.Kind == cdc.Int && v.Int >= 0 {
		return int(v.Int)
	}
	return t.cfg.DefaultDays
}
