package main

import (
	"context"
	"errors"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/internal/ops"
	"github.com/loyaltyhooks/loyaltyhooks/sender"
	"github.com/loyaltyhooks/loyaltyhooks/topology"
)

func newSendCommand() *cobra.Command {
	var createTopics bool
	cmd := &cobra.Command{
		Use:   "send",
		Short: "Run the webhook sender: events of the webhook topic to their subscribers over HTTP",
		Long: `Run the webhook sender. It reads the webhook topic in its own consumer group, matches each
event to the subscriptions of the config file and of the webhook_subscription table, and POSTs
Open Loyalty's envelope to each, signed per Standard Webhooks. Failed attempts wait in the retry
tier topics (sender.retryDelays) and, after the last, go to the dead-letter topic with their
attempt history.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			log, err := newLogger(cfg.Log, os.Stderr)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			t := topology.FromConfig(cfg)
			if err := t.Validate(); err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			s, err := sender.New(cfg, sender.WithLogger(log), sender.WithRegisterer(reg),
				sender.WithConsumerOptions(kgo.WithHooks(ops.KafkaMetrics(reg))))
			if err != nil {
				return err
			}
			stop, err := serveOps(cfg, reg, log, s.Groups(), senderReady(s))
			if err != nil {
				return err
			}
			defer stop()
			// After serveOps, so that /healthz answers while it waits.
			if err := awaitServices(ctx, log, cfg); err != nil || ctx.Err() != nil {
				return err
			}
			if createTopics {
				if err := createMissingTopics(ctx, cfg.Kafka, t); err != nil {
					return err
				}
			}
			return ops.RunWithin(ctx, cfg.Sender.ShutdownTimeout, s.Run)
		},
	}
	cmd.Flags().BoolVar(&createTopics, "create-topics", false, "create the retry tier and dead-letter topics (and any other missing topic) before starting")
	return cmd
}

// senderReady holds while the sender has its subscriptions, owns partitions of the webhook topic
// and can reach its delivered memory in Redis.
func senderReady(s *sender.Sender) ops.Check {
	return ops.Check{Name: "sender", Probe: func(context.Context) error {
		if !s.Ready() {
			return errors.New("subscriptions not loaded, no partitions assigned, or Redis unavailable")
		}
		return nil
	}}
}
