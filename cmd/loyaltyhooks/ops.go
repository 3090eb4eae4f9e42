package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
	"github.com/loyaltyhooks/loyaltyhooks/internal/ops"
	"github.com/loyaltyhooks/loyaltyhooks/processor"
)

// lagScrapeTimeout bounds how long one scrape of /metrics waits for the lag of the groups.
const lagScrapeTimeout = 5 * time.Second

// serveOps starts a component's operations server on metrics.addr: the metrics of reg plus the
// consumer lag of groups, and readiness as checks plus broker and Redis reachability. Its own
// Kafka and Redis clients only probe and read offsets. stop closes the server and the clients.
func serveOps(cfg config.Config, reg *prometheus.Registry, log *slog.Logger, groups []string, checks ...ops.Check) (stop func(), err error) {
	kcl, err := connect.KafkaClient(cfg.Kafka)
	if err != nil {
		return nil, err
	}
	rdb, err := connect.Redis(cfg.Redis)
	if err != nil {
		kcl.Close()
		return nil, err
	}
	if err := reg.Register(ops.NewLag(kadm.NewClient(kcl), groups, lagScrapeTimeout, log)); err != nil {
		kcl.Close()
		_ = rdb.Close()
		return nil, err
	}
	srv, err := ops.Serve(cfg.Metrics.Addr, reg, log, append(checks, ops.Broker(kcl), ops.Redis(rdb))...)
	if err != nil {
		kcl.Close()
		_ = rdb.Close()
		return nil, err
	}
	return func() {
		srv.Close()
		kcl.Close()
		_ = rdb.Close()
	}, nil
}

// processorReady holds while the processor owns partitions and is not paused waiting for Redis.
func processorReady(p *processor.Processor) ops.Check {
	return ops.Check{Name: "processor", Probe: func(context.Context) error {
		switch {
		case p.Assigned() == 0:
			return errors.New("no partitions assigned")
		case !p.Ready():
			return errors.New("fetching paused while Redis is unavailable")
		}
		return nil
	}}
}

// redisLog sends go-redis's own messages (dial failures and the like), which it would otherwise
// print as plain text on stderr, to the JSON log.
type redisLog struct{ log *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.log.WarnContext(ctx, "redis client: "+strings.TrimSpace(fmt.Sprintf(format, v...)))
}
