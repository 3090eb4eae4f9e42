package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
	"github.com/loyaltyhooks/loyaltyhooks/topology"
)

func newTopologyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topology",
		Short: "Print the topics loyaltyhooks uses, create or grow them, or compare them with the cluster",
	}
	cmd.AddCommand(newTopologyDescribeCommand(), newTopologyApplyCommand(), newTopologyCheckCommand())
	return cmd
}

func newTopologyDescribeCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "describe",
		Short: "Print every topic with its partitions, key, cleanup policy, retention, writers and readers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			t := topology.FromConfig(cfg)
			if err := t.Validate(); err != nil {
				return err
			}
			return t.Describe(cmd.OutOrStdout(), format)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: "+strings.Join(topology.Formats, ", "))
	return cmd
}

func newTopologyApplyCommand() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Create missing topics, grow partition counts and set declared configs; never shrinks or deletes",
		Long: `apply makes the cluster match the declared topology as far as it safely can: it creates missing
topics, grows partition counts to the declared ones and sets declared topic configs. It never
shrinks or deletes a topic. Growing a keyed topic remaps keys to partitions, so a key's new
records may land on another partition than its unconsumed old ones: drain the topic first (see
the README, "Scaling by partitions"). Running it again changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := loadConfigAndLogger(cmd)
			if err != nil {
				return err
			}
			return withAdmin(cmd.Context(), cfg.Kafka, func(adm *kadm.Client) error {
				actions, err := topology.Apply(cmd.Context(), adm, topology.FromConfig(cfg), dryRun)
				out := cmd.OutOrStdout()
				for _, a := range actions {
					prefix := ""
					if dryRun {
						prefix = "would "
					}
					fmt.Fprintln(out, prefix+a.String())
					if a.Warning != "" {
						log.Warn("topology apply: "+a.Warning, "topic", a.Topic, "what", a.What, "have", a.Have, "want", a.Want)
					}
				}
				if err == nil && len(actions) == 0 {
					fmt.Fprintln(out, "every topic matches the topology; nothing to do")
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be done and change nothing")
	return cmd
}

func newTopologyCheckCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Compare the declared topology with the cluster; exits non-zero on any difference",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return withAdmin(cmd.Context(), cfg.Kafka, func(adm *kadm.Client) error {
				diffs, err := topology.Compare(cmd.Context(), adm, topology.FromConfig(cfg))
				if err != nil {
					return err
				}
				for _, d := range diffs {
					fmt.Fprintln(cmd.OutOrStdout(), d)
				}
				if len(diffs) > 0 {
					return fmt.Errorf("topology check: %d difference(s) from the cluster; 'loyaltyhooks topology apply' fixes all but shrinking", len(diffs))
				}
				fmt.Fprintln(cmd.OutOrStdout(), "every topic matches the topology")
				return nil
			})
		},
	}
}

// loadConfigAndLogger reads the configuration and builds the logger it asks for.
func loadConfigAndLogger(cmd *cobra.Command) (config.Config, *slog.Logger, error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return cfg, nil, err
	}
	log, err := newLogger(cfg.Log, os.Stderr)
	return cfg, log, err
}

// withAdmin runs fn with an admin client of the configured cluster, once a broker has accepted
// the configured TLS and login (a refused login is otherwise a bare EOF).
func withAdmin(ctx context.Context, kc config.Kafka, fn func(*kadm.Client) error) error {
	if err := connect.CheckKafka(ctx, kc); err != nil {
		return err
	}
	cl, err := connect.KafkaClient(kc)
	if err != nil {
		return err
	}
	defer cl.Close()
	return fn(kadm.NewClient(cl))
}
