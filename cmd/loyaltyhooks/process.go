package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
	"github.com/loyaltyhooks/loyaltyhooks/internal/ops"
	"github.com/loyaltyhooks/loyaltyhooks/processor"
	"github.com/loyaltyhooks/loyaltyhooks/topology"
)

func newProcessCommand() *cobra.Command {
	var createTopics bool
	cmd := &cobra.Command{
		Use:   "process",
		Short: "Run the stream processor: change topics in, webhook events out, exactly once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			log, err := newLogger(cfg.Log, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if err := topology.FromConfig(cfg).Validate(); err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			// Served from the start, so that /healthz answers while awaitServices waits.
			var started startup
			stop, err := serveOps(cfg, reg, log, []string{cfg.Processor.Group}, started.Check("processor"))
			if err != nil {
				return err
			}
			defer stop()
			if err := awaitServices(ctx, log, cfg); err != nil || ctx.Err() != nil {
				return err
			}
			if createTopics {
				if err := createMissingTopics(ctx, cfg.Kafka, topology.FromConfig(cfg)); err != nil {
					return err
				}
			}
			extra, err := processorOptions(cfg)
			if err != nil {
				return err
			}
			p, err := processor.New(ctx, cfg, append(extra, processor.WithLogger(log), processor.WithRegisterer(reg),
				processor.WithKafkaOptions(kgo.WithHooks(ops.KafkaMetrics(reg))))...)
			if err != nil {
				return err
			}
			started.Done(processorReady(p))
			return ops.RunWithin(ctx, cfg.Processor.ShutdownTimeout, p.Run)
		},
	}
	cmd.Flags().BoolVar(&createTopics, "create-topics", false, "create the webhook and dead-letter topics (and missing change topics) before starting")
	return cmd
}

// createMissingTopics creates what the topology declares and the cluster lacks.
func createMissingTopics(ctx context.Context, kc config.Kafka, t topology.Topology) error {
	cl, err := connect.KafkaClient(kc)
	if err != nil {
		return err
	}
	defer cl.Close()
	_, err = topology.CreateMissing(ctx, kadm.NewClient(cl), t)
	return err
}
