package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
	"github.com/loyaltyhooks/loyaltyhooks/sender/endpoint"
	"github.com/loyaltyhooks/loyaltyhooks/sender/ssrf"
	"github.com/loyaltyhooks/loyaltyhooks/sender/subscription"
)

// Sender delivers the webhook topic's events to their subscribers.
type Sender struct {
	cfg       config.Config
	log       *slog.Logger
	metrics   *Metrics
	clock     Clock
	instance  string
	kafkaBase []kgo.Opt // the cluster's options from connect.Kafka, built when Run starts
	kopts     []kgo.Opt
	codec     *schemas.Codec
	reader    *schemas.Reader
	decoder   *cdc.Decoder
	view      *subscription.View
	endpoints *endpoint.Registry
	memory    *memory
	transport http.RoundTripper
	tiers     tiers
	lanes     []*lane

	producer *kgo.Client
	caughtUp atomic.Bool
	taken    atomic.Int64 // records of the webhook topic taken up
	inFlight atomic.Int64 // deliveries started and not finished
}

// Option adjusts a Sender.
type Option func(*options)

type options struct {
	log      *slog.Logger
	reg      prometheus.Registerer
	redis    redis.UniversalClient
	registry *sr.Client
	clock    Clock
	resolver ssrf.Resolver
	kopts    []kgo.Opt
	mainOpts []kgo.Opt
}

// WithLogger sets the logger (default: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithRegisterer registers the sender's metrics (default: not registered).
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// WithRedis uses an existing Redis client instead of one built from redis.url.
func WithRedis(c redis.UniversalClient) Option { return func(o *options) { o.redis = c } }

// WithRegistry uses an existing schema registry client instead of one built from
// schemaRegistry.url.
func WithRegistry(c *sr.Client) Option { return func(o *options) { o.registry = c } }

// WithClock sets the clock of retry due times, signatures, attempt history and breakers
// (default: real time).
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithResolver resolves the receivers' host names with r instead of the system resolver.
func WithResolver(r ssrf.Resolver) Option { return func(o *options) { o.resolver = r } }

// WithKafkaOptions appends client options, e.g. a dialer for tests.
func WithKafkaOptions(opts ...kgo.Opt) Option {
	return func(o *options) { o.kopts = append(o.kopts, opts...) }
}

// WithConsumerOptions appends client options to the consumer of the webhook topic only, e.g.
// client metrics hooks that may serve one client at a time.
func WithConsumerOptions(opts ...kgo.Opt) Option {
	return func(o *options) { o.mainOpts = append(o.mainOpts, opts...) }
}

// New builds a sender from a validated configuration. It checks the file's subscriptions; it
// does not touch Kafka or Redis until Run.
func New(cfg config.Config, opts ...Option) (*Sender, error) {
	o := options{log: slog.Default(), clock: realClock{}}
	for _, opt := range opts {
		opt(&o)
	}
	file, err := subscription.FromConfig(cfg.Sender.Subscriptions)
	if err != nil {
		return nil, err
	}
	if err := knownEvents(cfg.Sender.Subscriptions); err != nil {
		return nil, err
	}
	allowed, err := ssrf.ParsePrefixes(cfg.Sender.AllowedCIDRs)
	if err != nil {
		return nil, fmt.Errorf("sender.allowedCIDRs: %w", err)
	}
	if o.registry == nil && cfg.SchemaRegistry.URL != "" {
		if o.registry, err = connect.Registry(cfg.SchemaRegistry); err != nil {
			return nil, err
		}
	}
	if o.redis == nil {
		if o.redis, err = connect.Redis(cfg.Redis); err != nil {
			return nil, err
		}
	}
	decoder, err := cdc.NewDecoder(cfg.Source, o.registry)
	if err != nil {
		return nil, fmt.Errorf("subscription decoder: %w", err)
	}
	codec, err := schemas.New()
	if err != nil {
		return nil, fmt.Errorf("webhook schemas: %w", err)
	}
	instance := cfg.Sender.InstanceID
	if instance == "" {
		instance, _ = os.Hostname()
	}
	s := &Sender{
		cfg:      cfg,
		log:      o.log,
		clock:    o.clock,
		instance: instance,
		kopts:    o.kopts,
		codec:    codec,
		reader:   schemas.NewReader(codec, o.registry),
		decoder:  decoder,
		view:     subscription.NewView(file),
		endpoints: endpoint.NewRegistry(endpoint.Limits{
			Concurrency: cfg.Sender.EndpointConcurrency,
			Failures:    cfg.Sender.Breaker.Failures,
			OpenFor:     cfg.Sender.Breaker.OpenFor,
		}, o.clock.Now),
		tiers: newTiers(cfg),
	}
	s.metrics = newMetrics(o.reg, s.endpoints)
	s.memory = newMemory(o.redis, cfg.Redis.KeyPrefix, cfg.Sender.DeliveredTTL,
		func(op string) { s.metrics.RedisErrors.WithLabelValues(op).Inc() })
	s.transport = newTransport(cfg.Sender, allowed, o.resolver)
	s.lanes = s.newLanes()
	s.lanes[0].extra = o.mainOpts
	return s, nil
}

// knownEvents checks the event names of the file's subscriptions against the triggers.
func knownEvents(subs []config.Subscription) error {
	var errs []error
	for i, sub := range subs {
		for j, name := range sub.EventNames {
			if !slices.Contains(schemas.Triggers, name) {
				errs = append(errs, fmt.Errorf("sender.subscriptions[%d].eventNames[%d]: %q is not a trigger", i, j, name))
			}
		}
	}
	return errors.Join(errs...)
}

// newTransport makes the transport of every attempt: the SSRF guard as its only way out (no
// proxy), connect and handshake bounded. Attempts use it directly, not through an http.Client,
// so a redirect is a response like any other: never followed.
func newTransport(c config.Sender, allowed []netip.Prefix, resolver ssrf.Resolver) *http.Transport {
	var gopts []ssrf.Option
	if resolver != nil {
		gopts = append(gopts, ssrf.WithResolver(resolver))
	}
	guard := ssrf.New(allowed, c.ConnectTimeout, gopts...)
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, c.ConnectTimeout)
			defer cancel()
			return guard.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   c.ConnectTimeout,
		ResponseHeaderTimeout: c.RequestTimeout,
		MaxIdleConnsPerHost:   c.EndpointConcurrency,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
	}
}

func (s *Sender) newLanes() []*lane {
	c := s.cfg
	lanes := []*lane{{s: s, name: "main", topic: c.Topics.Webhooks, group: c.Sender.Group, parts: map[int32]*partition{}}}
	for _, d := range s.tiers.topics {
		name := config.TierName(d)
		lanes = append(lanes, &lane{s: s, name: name, topic: c.Topics.Retry(d), group: c.Sender.Group + "." + name,
			delay: d, parts: map[int32]*partition{}})
	}
	return lanes
}

// kafkaOptions are the options every client of the sender starts from.
// Run builds them once (connect.Kafka reads password files again at every login).
func (s *Sender) kafkaOptions() []kgo.Opt {
	opts := append(slices.Clip(s.kafkaBase), kgo.ClientID(s.cfg.Kafka.ClientID+"-sender-"+s.instance))
	return append(opts, s.kopts...)
}

// Metrics returns the sender's metrics.
func (s *Sender) Metrics() *Metrics { return s.metrics }

// Subscriptions returns the subscriptions as the sender sees them now.
func (s *Sender) Subscriptions() *subscription.Set { return s.view.Set() }

// Groups returns the consumer groups of the sender: the webhook topic's, then each tier's.
func (s *Sender) Groups() []string {
	out := make([]string, len(s.lanes))
	for i, l := range s.lanes {
		out[i] = l.group
	}
	return out
}

// Progress returns how many records of the webhook topic the sender has taken up since it
// started, and how many deliveries are in flight: started, neither done nor handed on.
func (s *Sender) Progress() (taken, inFlight int64) { return s.taken.Load(), s.inFlight.Load() }

// Ready reports whether the sender is delivering: subscriptions loaded, partitions of the
// webhook topic assigned, and Redis answering.
func (s *Sender) Ready() bool {
	return s.caughtUp.Load() && s.lanes[0].assigned.Load() > 0 && s.memory.healthy.Load()
}

// Run delivers until ctx is cancelled, then lets the deliveries in flight finish within
// sender.shutdownTimeout, commits, leaves the groups and returns nil. It first reads the
// subscription and tenant topics to their end, so that no event is matched against a partial
// set of subscriptions.
func (s *Sender) Run(ctx context.Context) error {
	base, err := connect.Kafka(s.cfg.Kafka)
	if err != nil {
		return err
	}
	s.kafkaBase = base
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	producer, err := kgo.NewClient(s.kafkaOptions()...)
	if err != nil {
		return fmt.Errorf("kafka producer: %w", err)
	}
	defer producer.Close()
	s.producer = producer
	go s.memory.run(work)

	follower, err := kgo.NewClient(append(s.kafkaOptions(),
		kgo.ConsumeTopics(s.cfg.Source.Topic(subscription.SubscriptionTable), s.cfg.Source.Topic(subscription.TenantTable)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		return fmt.Errorf("kafka client of the subscription topics: %w", err)
	}
	defer follower.Close()
	caught := make(chan struct{})
	followed := make(chan error, 1)
	go func() {
		followed <- s.view.Follow(work, follower, s.decoder, s.log, func() { close(caught) })
	}()
	defer func() { stopWork(); <-followed }()
	select {
	case <-ctx.Done():
		return nil
	case err := <-followed:
		return fmt.Errorf("subscriptions: %w", err)
	case <-caught:
	}
	s.caughtUp.Store(true)
	s.log.Info("sender started", "instance", s.instance, "group", s.cfg.Sender.Group,
		"subscriptions", s.view.Set().Len(), "tiers", len(s.lanes)-1)

	laneCtx, stopLanes := context.WithCancel(ctx)
	defer stopLanes()
	var wg sync.WaitGroup
	errs := make([]error, len(s.lanes))
	for i, l := range s.lanes {
		wg.Go(func() {
			if errs[i] = l.run(laneCtx, work); errs[i] != nil {
				errs[i] = fmt.Errorf("%s lane: %w", l.name, errs[i])
				stopLanes()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
