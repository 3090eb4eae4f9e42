package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/loyaltyhooks/loyaltyhooks/config"
)

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "loyaltyhooks",
		Short: "Open Loyalty webhooks from Debezium change events, exactly once",
		Long: `loyaltyhooks reads the Debezium change topics of a loyalty database, turns each row change
into the Open Loyalty webhook events it triggers, and writes them to a Kafka topic in
transactions, exactly once.

Settings come from built-in defaults, a YAML file (--config), LOYALTYHOOKS_<KEY> environment
variables and flags, in rising precedence. 'loyaltyhooks config print' shows the result.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("config", "", "YAML config file (optional)")
	config.AddFlags(root.PersistentFlags())
	root.AddCommand(newProcessCommand(), newTailCommand(), newConfigCommand(), newDemoCommand())
	return root
}

// loadConfig reads the effective configuration of a command.
func loadConfig(cmd *cobra.Command) (config.Config, error) {
	file, _ := cmd.Flags().GetString("config")
	return config.Load(file, cmd.Flags())
}

// newLogger returns the logger the log.* keys ask for.
func newLogger(c config.Log, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(c.Format, "text") {
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return slog.New(slog.NewJSONHandler(w, opts)), nil
}

func newConfigCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "print",
		Short: "Print the effective configuration as YAML, secrets redacted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return config.Print(cmd.OutOrStdout(), cfg)
		},
	})
	return cmd
}
