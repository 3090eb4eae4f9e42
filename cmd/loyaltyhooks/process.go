package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
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
			log, err := newLogger(cfg.Log, os.Stderr)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if createTopics {
				if err := createMissingTopics(ctx, cfg.Kafka, topology.FromConfig(cfg)); err != nil {
					return err
				}
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			p, err := processor.New(ctx, cfg, processor.WithLogger(log), processor.WithRegisterer(reg))
			if err != nil {
				return err
			}
			stop, err := serveMetrics(cfg.Metrics.Addr, reg, log, func() bool { return p.Assigned() > 0 })
			if err != nil {
				return err
			}
			defer stop()
			return p.Run(ctx)
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

// serveMetrics serves /metrics, /healthz and /readyz on addr until the returned stop is called.
func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger, ready func() bool) (stop func(), err error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			http.Error(w, "no partitions assigned", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics.addr: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped; processing goes on without it", "addr", addr, "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
