package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
	"github.com/loyaltyhooks/loyaltyhooks/internal/failpoint"
	"github.com/loyaltyhooks/loyaltyhooks/processor/claim"
	"github.com/loyaltyhooks/loyaltyhooks/processor/lookup"
	"github.com/loyaltyhooks/loyaltyhooks/processor/timer"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
	"github.com/loyaltyhooks/loyaltyhooks/topology"
)

// Processor runs the transactional consume → process → produce loop.
type Processor struct {
	cfg      config.Config
	log      *slog.Logger
	metrics  *Metrics
	pipeline *Pipeline
	kopts    []kgo.Opt
	assigned atomic.Int64
	ticker   *timer.Ticker // scans the timer shards of the timers-topic partitions owned
	// rdb is the Redis of lookups and claims; redisDown is set while it does not answer.
	rdb       redis.UniversalClient
	redisDown atomic.Bool
	// references holds back the topics whose lookup topics lag (nil: never).
	references *referencesFirst
}

// Option adjusts a Processor.
type Option func(*options)

type options struct {
	log      *slog.Logger
	reg      prometheus.Registerer
	redis    redis.UniversalClient
	registry *sr.Client
	claimer  claim.Claimer
	kopts    []kgo.Opt
	local    bool
	// clock judges and paces the expiry timers; timerScanHook runs inside each timer scan.
	clock         timer.Clock
	timerScanHook func()
}

// WithLogger sets the logger (default: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithRegisterer registers the processor's metrics (default: not registered).
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// WithRedis uses an existing Redis client instead of one built from redis.url.
func WithRedis(c redis.UniversalClient) Option { return func(o *options) { o.redis = c } }

// WithRegistry uses an existing schema registry client instead of one built from
// schemaRegistry.url.
func WithRegistry(c *sr.Client) Option { return func(o *options) { o.registry = c } }

// WithClaimer sets how events are deduplicated (default: claims in Redis).
func WithClaimer(c claim.Claimer) Option { return func(o *options) { o.claimer = c } }

// WithLocalState keeps lookup rows in the process's memory and sets no timers and defers no
// changes: a batch's work without its Redis round trips (claims still go to the claimer). It is
// for measuring the processor's own cost, as BenchmarkEndToEnd's redis=off variant does, not for
// use: nothing is shared between instances or kept across restarts, and no expiry event fires.
func WithLocalState() Option { return func(o *options) { o.local = true } }

// WithKafkaOptions appends client options, e.g. a dialer for tests.
func WithKafkaOptions(opts ...kgo.Opt) Option {
	return func(o *options) { o.kopts = append(o.kopts, opts...) }
}

// New builds a processor from a validated configuration. It registers the webhook schema when
// a registry is configured; it does not touch Kafka until Run.
func New(ctx context.Context, cfg config.Config, opts ...Option) (*Processor, error) {
	o := options{log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.registry == nil && cfg.SchemaRegistry.URL != "" {
		reg, err := connect.Registry(cfg.SchemaRegistry)
		if err != nil {
			return nil, err
		}
		o.registry = reg
	}
	if o.redis == nil {
		rdb, err := connect.Redis(cfg.Redis)
		if err != nil {
			return nil, err
		}
		o.redis = rdb
	}
	decoder, err := cdc.NewDecoder(cfg.Source, o.registry)
	if err != nil {
		return nil, fmt.Errorf("source decoder: %w", err)
	}
	codec, err := schemas.New()
	if err != nil {
		return nil, fmt.Errorf("webhook schemas: %w", err)
	}
	writer, err := schemas.NewWriter(ctx, codec, o.registry, cfg.Topics.Webhooks+"-value")
	if err != nil {
		return nil, fmt.Errorf("webhook schema registration: %w", err)
	}
	m := NewMetrics(o.reg)
	if o.claimer == nil {
		c := claim.NewRedis(o.redis, cfg.Redis.KeyPrefix, cfg.Processor.DedupTTL)
		c.Observe = func(d time.Duration) { m.ClaimSeconds.Observe(d.Seconds()) }
		o.claimer = c
	}
	p := &Processor{
		cfg:     cfg,
		rdb:     o.redis,
		log:     o.log,
		metrics: m,
		kopts:   o.kopts,
		pipeline: &Pipeline{
			Decoder:      decoder,
			Lookups:      lookup.NewStore(o.redis, cfg.Redis.KeyPrefix),
			Encoder:      writer,
			Claimer:      o.claimer,
			WebhookTopic: cfg.Topics.Webhooks,
			DeadTopic:    cfg.Topics.CDCDeadLetter,
			Metrics:      m,
			Now:          o.timerClock().Now,
			Timers:       timer.NewStore(o.redis, cfg.Redis.KeyPrefix),
			TimersTopic:  cfg.Topics.Timers,
			Late:         lateLookups(cfg.Timers),
		},
		ticker:     newTicker(cfg, &o, m),
		references: newReferencesFirst(cfg, o.log, m.TopicsHeldForReferences),
	}
	if o.local {
		p.pipeline.Lookups, p.pipeline.Timers, p.pipeline.Late = nil, nil, nil
	}
	return p, nil
}

// Metrics returns the processor's metrics.
func (p *Processor) Metrics() *Metrics { return p.metrics }

// Assigned reports how many partitions this instance owns now, of the change topics and the
// timers topic.
func (p *Processor) Assigned() int { return int(p.assigned.Load()) }

// Ready reports whether the instance is doing its work: it owns partitions and Redis answers.
// It is false while the processor waits for Redis, fetching paused.
func (p *Processor) Ready() bool { return p.Assigned() > 0 && !p.redisDown.Load() }

// TransactionalID is this instance's stable transactional.id: a restarted instance with the same
// id fences its predecessor's open transaction at once.
func (p *Processor) TransactionalID() string {
	return p.cfg.Processor.Group + "-" + p.cfg.Processor.InstanceID
}

// Run consumes until ctx is cancelled, then finishes the batch in hand, commits, leaves the group
// and returns nil. A session that fails is closed and rebuilt after a pause.
func (p *Processor) Run(ctx context.Context) error {
	stopTimers, err := p.startTimers(ctx)
	if err != nil {
		return err
	}
	defer stopTimers()
	backoff := newBackoff(200*time.Millisecond, 10*time.Second)
	for {
		err := p.runSession(ctx)
		if ctx.Err() != nil {
			return nil
		}
		p.log.Error("transactional session failed; rebuilding it", "err", err)
		if !backoff.wait(ctx) {
			return nil
		}
	}
}

func (p *Processor) clientOptions() ([]kgo.Opt, error) {
	c := p.cfg
	opts, err := connect.Kafka(c.Kafka)
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.ConsumerGroup(c.Processor.Group),
		kgo.ConsumeTopics(append(topology.FromConfig(c).Sources(), c.Topics.Timers)...),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.TransactionalID(p.TransactionalID()),
		kgo.TransactionTimeout(c.Kafka.TransactionTimeout),
		kgo.SessionTimeout(c.Kafka.SessionTimeout),
		kgo.RebalanceTimeout(c.Kafka.RebalanceTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Topics pause and resume: read lookups first, Redis down.
		kgo.FetchMaxWait(connect.ResumableFetchWait),
		kgo.OnPartitionsAssigned(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			p.partitionsChanged("assigned", m)
			p.ownTimers(m)
			// Before the new partitions are fetched: a backlog is read lookups first from
			// its first poll on.
			p.references.update(ctx, cl, true)
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			p.partitionsChanged("revoked", m)
			p.disownTimers(m)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			p.partitionsChanged("lost", m)
			p.disownTimers(m)
		}),
	)
	return append(opts, p.kopts...), nil
}

func count(m map[string][]int32) int {
	n := 0
	for _, ps := range m {
		n += len(ps)
	}
	return n
}

func (p *Processor) runSession(ctx context.Context) error {
	opts, err := p.clientOptions()
	if err != nil {
		return err
	}
	// A refused login or an untrusted certificate would otherwise leave the group join waiting
	// without a word; this names the broker and the cause, and Run retries with backoff. The
	// check's client goes without p.kopts: hooks such as metrics belong to one client each.
	if err := connect.CheckKafka(ctx, p.cfg.Kafka); err != nil {
		return err
	}
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer func() {
		p.references.release(sess.Client())
		sess.Close()
		p.ticker.DisownAll()
		p.assigned.Store(0)
		p.metrics.AssignedPartitions.Set(0)
	}()
	// Initializing the producer id now rather than at the first transaction fences a predecessor
	// with the same transactional.id and aborts its open transaction at once: until then, its
	// pending offsets keep this instance from fetching the group's offsets at all.
	if _, _, err := sess.Client().ProducerID(ctx); err != nil {
		return fmt.Errorf("init producer id of %s: %w", p.TransactionalID(), err)
	}
	p.log.Info("processor started", "group", p.cfg.Processor.Group, "transactional_id", p.TransactionalID())
	retry := newBackoff(100*time.Millisecond, 5*time.Second)
	for {
		p.references.update(ctx, sess.Client(), false)
		// While topics are held back the poll is bounded, so that they are let go in time.
		pollCtx, endPoll := ctx, context.CancelFunc(func() {})
		if d := p.references.pollTimeout(); d > 0 {
			pollCtx, endPoll = context.WithTimeout(ctx, d)
		}
		fetches := sess.PollRecords(pollCtx, p.cfg.Processor.MaxPollRecords)
		endPoll()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if pollCtx != ctx && errors.Is(err, context.DeadlineExceeded) {
				return // the bounded poll ended
			}
			p.log.Warn("fetch error", "topic", topic, "partition", partition, "err", err)
		})
		recs := fetches.Records()
		if len(recs) == 0 {
			continue
		}
		// The batch in hand is finished even when shutdown begins, within the shutdown budget.
		work, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.Processor.ShutdownTimeout)
		committed, err := p.transact(work, sess, recs)
		cancel()
		var transient *transientError
		switch {
		case errors.As(err, &transient):
			p.metrics.TransactionsAborted.WithLabelValues("transient").Inc()
			p.log.Warn("batch aborted; it will be polled again", "records", len(recs), "err", transient.err)
			waited, ok := p.awaitRedis(ctx, sess.Client())
			if !ok || (!waited && !retry.wait(ctx)) {
				return nil
			}
		case err != nil:
			return err
		case !committed:
			p.metrics.TransactionsAborted.WithLabelValues("rebalance").Inc()
			p.log.Info("transaction aborted by a rebalance; the batch will be polled again", "records", len(recs))
		default:
			retry.reset()
		}
	}
}

// transientError marks a batch failure that aborts the transaction but keeps the session.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }

// transact processes one batch in one transaction. It returns whether it committed; a
// transientError when the batch was aborted for a passing failure; any other error means the
// session is broken.
func (p *Processor) transact(ctx context.Context, sess *kgo.GroupTransactSession, recs []*kgo.Record) (bool, error) {
	start := time.Now()
	if err := sess.Begin(); err != nil {
		return false, fmt.Errorf("begin transaction: %w", err)
	}
	out, perr := p.pipeline.Process(ctx, recs)
	phase := time.Now()
	if perr == nil {
		perr = produce(ctx, sess, out)
	}
	p.metrics.phase(&phase, phaseProduce)
	if perr == nil && len(out) > 0 {
		failpoint.Hit(failpoint.AfterProduce)
	}
	if perr != nil {
		if _, err := sess.End(ctx, kgo.TryAbort); err != nil {
			return false, fmt.Errorf("abort transaction after %v: %w", perr, err)
		}
		return false, &transientError{perr}
	}
	committed, err := sess.End(ctx, kgo.TryCommit)
	p.metrics.phase(&phase, phaseCommit)
	if err != nil {
		return false, fmt.Errorf("commit transaction: %w", err)
	}
	if committed {
		p.countCommitted(out)
		p.metrics.BatchSeconds.Observe(time.Since(start).Seconds())
	}
	return committed, nil
}

func produce(ctx context.Context, sess *kgo.GroupTransactSession, out []*kgo.Record) error {
	var failed atomic.Pointer[error]
	for _, r := range out {
		sess.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err != nil {
				err = fmt.Errorf("produce to %s: %w", r.Topic, err)
				failed.CompareAndSwap(nil, &err)
			}
		})
	}
	if err := sess.Client().Flush(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	if e := failed.Load(); e != nil {
		return *e
	}
	return nil
}

// countCommitted counts what a committed transaction wrote, and what its batch counted: a batch
// polled again after an abort is counted once.
func (p *Processor) countCommitted(out []*kgo.Record) {
	p.pipeline.Committed()
	for _, r := range out {
		switch r.Topic {
		case p.cfg.Topics.Webhooks:
			p.metrics.EventsProduced.WithLabelValues(Header(r, HeaderEventName)).Inc()
		case p.cfg.Topics.CDCDeadLetter:
			p.metrics.DeadLetters.WithLabelValues(Header(r, HeaderDeadReason)).Inc()
		}
	}
}

// Header returns the value of a record's header, "" when it has none: how the processor's own
// headers (event-name, message-id, store-code, dlq-*) are read back.
func Header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// awaitRedis holds the session while Redis does not answer a ping: the instance reports not
// ready, fetching is paused, and the ping is retried with capped backoff until Redis answers.
// Nothing is polled meanwhile, so no record is skipped and no event goes out unclaimed; the
// aborted batch is polled again afterwards. It reports whether Redis was down, and false as ok
// when ctx ended first.
func (p *Processor) awaitRedis(ctx context.Context, cl *kgo.Client) (waited, ok bool) {
	cause := p.pingRedis(ctx)
	if cause == nil {
		return false, true
	}
	// Only the topics not paused already, and only those resume: the others stay as they were
	// (held back for their lookup topics).
	var topics []string
	paused := cl.PauseFetchTopics()
	for _, t := range cl.GetConsumeTopics() {
		if !slices.Contains(paused, t) {
			topics = append(topics, t)
		}
	}
	cl.PauseFetchTopics(topics...)
	p.redisDown.Store(true)
	p.metrics.RedisUnavailable.Set(1)
	p.log.Warn("redis unavailable: fetching paused, not ready, retrying", "topics", len(topics), "err", cause)
	start, last := time.Now(), time.Now()
	defer func() {
		p.metrics.RedisUnavailableSeconds.Add(time.Since(last).Seconds())
		p.metrics.RedisUnavailable.Set(0)
		p.redisDown.Store(false)
		cl.ResumeFetchTopics(topics...)
	}()
	b := newBackoff(200*time.Millisecond, 5*time.Second)
	for b.wait(ctx) {
		err := p.pingRedis(ctx)
		p.metrics.RedisUnavailableSeconds.Add(time.Since(last).Seconds())
		last = time.Now()
		if err == nil {
			p.log.Info("redis answers again: fetching resumed", "unavailable", time.Since(start).Round(time.Millisecond))
			return true, true
		}
		if err.Error() != cause.Error() { // say so when the cause changes, not on every ping
			cause = err
			p.log.Warn("redis still unavailable", "err", err)
		}
	}
	return true, false
}

func (p *Processor) pingRedis(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return p.rdb.Ping(ctx).Err()
}

// backoff doubles a pause from min up to max.
type backoff struct{ min, max, next time.Duration }

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max, next: min} }

func (b *backoff) reset() { b.next = b.min }

// wait pauses for the next interval; false when ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.next)
	defer t.Stop()
	b.next = min(2*b.next, b.max)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
