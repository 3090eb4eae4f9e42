package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
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
	root.AddCommand(newProcessCommand(), newSendCommand(), newTailCommand(), newConfigCommand(), newDemoCommand(), newTopologyCommand())
	return root
}

// loadConfig reads the effective configuration of a command and logs what Load warns of, such
// as a secret written in plain text in the config file (named by key, never shown).
func loadConfig(cmd *cobra.Command) (config.Config, error) {
	file, _ := cmd.Flags().GetString("config")
	cfg, err := config.Load(file, cmd.Flags())
	if err != nil || len(cfg.Warnings()) == 0 {
		return cfg, err
	}
	log, err := newLogger(cfg.Log, cmd.ErrOrStderr())
	if err != nil {
		return cfg, err
	}
	for _, w := range cfg.Warnings() {
		log.Warn(w.Text, "key", w.Key)
	}
	return cfg, nil
}

// newLogger returns the logger the log.* keys ask for.
func newLogger(c config.Log, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	log := slog.New(slog.NewJSONHandler(w, opts))
	if strings.EqualFold(c.Format, "text") {
		log = slog.New(slog.NewTextHandler(w, opts))
	}
	redis.SetLogger(redisLog{log})
	return log, nil
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
