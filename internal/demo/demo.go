package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/cdc"
	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
	"github.com/loyaltyhooks/loyaltyhooks/internal/debezium"
	"github.com/loyaltyhooks/loyaltyhooks/internal/ops"
	"github.com/loyaltyhooks/loyaltyhooks/internal/simulator"
	"github.com/loyaltyhooks/loyaltyhooks/processor"
	"github.com/loyaltyhooks/loyaltyhooks/schemas"
	"github.com/loyaltyhooks/loyaltyhooks/sender"
	"github.com/loyaltyhooks/loyaltyhooks/topology"
)

// Options shape a demo run.
type Options struct {
	Steps   int           // business actions the simulated database performs
	Rate    int           // actions per second (0: as fast as possible)
	Seed    int64         // simulator seed: the same seed gives the same changes
	Redis   config.Redis  // URL "" runs an embedded Redis; else this one, with its TLS and login
	DataDir string        // "" keeps the embedded broker in memory
	Drain   time.Duration // how long to wait for the processor to catch up at the end
	Out     io.Writer     // live lines and the summary
	Log     *slog.Logger  // the components' logs
}

// Summary is what a run produced.
type Summary struct {
	Changes    int            // change events the simulated database wrote
	Events     map[string]int // webhook events per trigger
	DeadLetter int
	Delivered  int // webhooks the local receiver got from the sender
	BadSigned  int // of them, signed but failing the signature check
}

// Run performs one demo: broker, Redis, topology, simulated database, processor, a reader of
// the webhook topic printing a line per event, the sender and a local receiver printing a line
// per webhook, then a summary per trigger.
func Run(ctx context.Context, o Options) (Summary, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	sum := Summary{Events: map[string]int{}}
	kopts := []kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second)}
	if o.DataDir != "" {
		kopts = append(kopts, kfake.DataDir(o.DataDir))
	}
	cluster, err := kfake.NewCluster(kopts...)
	if err != nil {
		return sum, fmt.Errorf("embedded broker: %w", err)
	}
	defer cluster.Close()

	redis := o.Redis
	if redis.URL == "" {
		mr, err := miniredis.Run()
		if err != nil {
			return sum, fmt.Errorf("embedded redis: %w", err)
		}
		defer mr.Close()
		redis = config.Redis{URL: "redis://" + mr.Addr() + "/0"}
	}

	cfg := config.Defaults()
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cfg.Kafka.SessionTimeout = 6 * time.Second
	cfg.Kafka.RebalanceTimeout = 3 * time.Second
	redis.KeyPrefix = cfg.Redis.KeyPrefix
	cfg.Redis = redis
	cfg.Processor.InstanceID = "demo"
	cfg.Processor.ShutdownTimeout = 5 * time.Second
	rc, err := startReceiver(o.Out)
	if err != nil {
		return sum, err
	}
	defer rc.close()
	configureSender(&cfg, rc)
	if err := cfg.Validate(); err != nil {
		return sum, err
	}
	fmt.Fprintf(o.Out, "embedded broker %s, redis %s\n", cfg.Kafka.Brokers[0], config.RedactURL(cfg.Redis.URL))

	producer, err := connect.KafkaClient(cfg.Kafka, kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return sum, err
	}
	defer producer.Close()
	created, err := topology.CreateMissing(ctx, kadm.NewClient(producer), topology.FromConfig(cfg))
	if err != nil {
		return sum, err
	}
	fmt.Fprintf(o.Out, "created %d topics\n", len(created))

	proc, err := processor.New(ctx, cfg, processor.WithLogger(o.Log))
	if err != nil {
		return sum, err
	}
	runCtx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	var wg sync.WaitGroup
	procErr := make(chan error, 1)
	wg.Go(func() { procErr <- proc.Run(runCtx) })
	snd, err := sender.New(cfg, sender.WithLogger(o.Log), sender.WithResolver(noNames{}))
	if err != nil {
		stopAll()
		wg.Wait()
		return sum, err
	}
	sendErr := make(chan error, 1)
	wg.Go(func() { sendErr <- snd.Run(runCtx) })

	var mu sync.Mutex
	readerDone := make(chan error, 1)
	wg.Go(func() {
		readerDone <- readEvents(runCtx, cfg, o.Out, func(trigger string, dead bool) {
			mu.Lock()
			defer mu.Unlock()
			if dead {
				sum.DeadLetter++
				return
			}
			sum.Events[trigger]++
		})
	})

	sum.Changes, err = simulate(ctx, o, cfg, producer, rc)
	if err != nil {
		stopAll()
		wg.Wait()
		return sum, err
	}
	err = waitCaughtUp(ctx, cfg, producer, o.Drain)
	if err == nil {
		// Timers learned from the last changes fire on the scan after them: wait for one, and
		// for the events of the due records it wrote.
		if err = waitTimerScan(ctx, proc, o.Drain); err == nil {
			err = waitCaughtUp(ctx, cfg, producer, o.Drain)
		}
	}
	if err == nil {
		err = waitDelivered(ctx, snd, func() int { mu.Lock(); defer mu.Unlock(); return total(sum.Events) }, o.Drain)
	}
	if err != nil {
		o.Log.Warn("processor did not catch up", "err", err)
		fmt.Fprintf(o.Out, "warning: %v\n", err)
	}
	stopAll()
	wg.Wait()
	if err := <-procErr; err != nil {
		return sum, err
	}
	if err := <-sendErr; err != nil {
		return sum, err
	}
	sum.Delivered, _, sum.BadSigned = rc.counts()
	if err := <-readerDone; err != nil && !errors.Is(err, context.Canceled) {
		return sum, err
	}
	printSummary(o.Out, sum)
	return sum, nil
}

// simulate writes the simulated database's snapshot and then Steps business actions.
// Subscriptions are pointed at the local receiver on their way.
func simulate(ctx context.Context, o Options, cfg config.Config, producer *kgo.Client, rc *receiver) (int, error) {
	enc, err := debezium.NewEncoder(debezium.Options{Format: debezium.JSON, DecimalMode: "string", Source: cfg.Source})
	if err != nil {
		return 0, err
	}
	changes := 0
	sink := func(ctx context.Context, ch *cdc.Change) error {
		ch = rc.adopt(ch)
		topic, key, value, err := enc.Encode(ctx, ch)
		if err != nil {
			return fmt.Errorf("encode %s change: %w", ch.Table, err)
		}
		if err := producer.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: key, Value: value}).FirstErr(); err != nil {
			return err
		}
		changes++
		if ch.Op == cdc.OpDelete {
			topic, key, err := enc.Tombstone(ch)
			if err != nil {
				return err
			}
			return producer.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: key}).FirstErr()
		}
		return nil
	}
	sim := simulator.New(simulator.Options{Seed: o.Seed, Tenants: 2, Clock: time.Now})
	if err := sim.Snapshot(ctx, sink); err != nil {
		return changes, fmt.Errorf("snapshot: %w", err)
	}
	var tick *time.Ticker
	if o.Rate > 0 {
		tick = time.NewTicker(time.Second / time.Duration(o.Rate))
		defer tick.Stop()
	}
	for range o.Steps {
		if tick != nil {
			select {
			case <-ctx.Done():
				return changes, ctx.Err()
			case <-tick.C:
			}
		}
		if err := sim.Step(ctx, sink); err != nil {
			return changes, fmt.Errorf("simulated action: %w", err)
		}
	}
	return changes, nil
}

// waitTimerScan waits until the processor has completed a timer scan that began after now.
func waitTimerScan(ctx context.Context, proc *processor.Processor, budget time.Duration) error {
	start, deadline := time.Now(), time.Now().Add(budget)
	for !proc.LastTimerScan().After(start) {
		if time.Now().After(deadline) {
			return fmt.Errorf("no timer scan within %v", budget)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// waitCaughtUp waits until the processor's group has committed every change record.
func waitCaughtUp(ctx context.Context, cfg config.Config, cl *kgo.Client, budget time.Duration) error {
	wait, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	err := ops.WaitCaughtUp(wait, kadm.NewClient(cl), cfg.Processor.Group, 100*time.Millisecond)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("change topics not fully processed after %v", budget)
	}
	return err
}

// readEvents prints a line per committed webhook event until ctx ends.
// Dead-lettered change records are counted and printed with their reason.
func readEvents(ctx context.Context, cfg config.Config, w io.Writer, seen func(trigger string, dead bool)) error {
	codec, err := schemas.New()
	if err != nil {
		return err
	}
	reader := schemas.NewReader(codec, nil)
	cl, err := connect.KafkaClient(cfg.Kafka,
		kgo.ConsumeTopics(cfg.Topics.Webhooks, cfg.Topics.CDCDeadLetter),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Topic == cfg.Topics.CDCDeadLetter {
				seen("", true)
				fmt.Fprintf(w, "dead-lettered %s: %s\n", processor.Header(r, processor.HeaderDeadReason), processor.Header(r, processor.HeaderDeadError))
				return
			}
			ev, err := reader.Decode(r.Value)
			if err != nil {
				fmt.Fprintf(w, "undecodable webhook record %d/%d: %v\n", r.Partition, r.Offset, err)
				return
			}
			seen(ev.EventName, false)
			fmt.Fprintf(w, "%s  %-40s store=%-8s key=%s  message=%s\n",
				ev.CreatedAt.Format("15:04:05.000"), ev.EventName, ev.StoreCode, r.Key, ev.MessageID)
		})
	}
}

func printSummary(w io.Writer, s Summary) {
	fmt.Fprintf(w, "\n%d change events in, %d webhook events out, %d dead-lettered\n", s.Changes, total(s.Events), s.DeadLetter)
	fmt.Fprintf(w, "%d webhooks delivered to the local receiver, %d with a bad signature\n", s.Delivered, s.BadSigned)
	var missing []string
	for _, t := range schemas.Triggers {
		if n := s.Events[t]; n > 0 {
			fmt.Fprintf(w, "  %-40s %6d\n", t, n)
		} else {
			missing = append(missing, t)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		fmt.Fprintf(w, "  not seen in this run: %v\n", missing)
	}
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
