package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/loyaltyhooks/loyaltyhooks/internal/demo"
)

func newDemoCommand() *cobra.Command {
	o := demo.Options{}
	var verbose bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run everything in one process on an embedded broker and Redis, and print what happens",
		Long: `Run the whole pipeline with no outside service: an in-process Kafka-protocol broker, an
embedded Redis (or --redis-url), a simulated loyalty database writing Debezium change events
for every table, the processor, the sender and a local receiver. Prints a line per committed
webhook event, a line (→) per webhook the receiver gets with its signature checked, and a
summary per trigger at the end.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("redis-url") {
				o.Redis = cfg.Redis // with redis.tls and the login keys
			}
			o.Out = cmd.OutOrStdout()
			if verbose {
				if o.Log, err = newLogger(cfg.Log, os.Stderr); err != nil {
					return err
				}
			}
			_, err = demo.Run(cmd.Context(), o)
			return err
		},
	}
	cmd.Flags().IntVar(&o.Steps, "steps", 400, "business actions the simulated database performs")
	cmd.Flags().IntVar(&o.Rate, "rate", 50, "actions per second (0: as fast as possible)")
	cmd.Flags().Int64Var(&o.Seed, "seed", 1, "simulator seed; the same seed gives the same changes")
	cmd.Flags().StringVar(&o.DataDir, "data-dir", "", "persist the embedded broker's data in this directory")
	cmd.Flags().DurationVar(&o.Drain, "drain", 30*time.Second, "how long to wait at the end for the processor to catch up")
	cmd.Flags().BoolVar(&verbose, "verbose", false, "also print the components' logs to stderr")
	return cmd
}
