package main

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
	"github.com/loyaltyhooks/loyaltyhooks/internal/ops"
)

// Backoff of awaitServices between rounds of checks.
const (
	awaitFirstPause = 500 * time.Millisecond
	awaitMaxPause   = 30 * time.Second
)

// awaitServices checks, before a long-running command starts, that Kafka, the schema registry
// (when configured) and Redis accept the configured TLS settings and credentials. Every failure
// is logged, naming the service and the cause, and the checks are repeated with capped backoff
// until all pass: a wrong password or a service not up yet shows in the log instead of as a
// crash loop, and a fixed password file or Secret is picked up without a restart. It returns nil
// when all pass or ctx ends (the caller tells the two apart), and an error only for settings no
// retry can fix, such as an unreadable CA file.
func awaitServices(ctx context.Context, log *slog.Logger, cfg config.Config) error {
	check, closeAll, err := serviceChecks(cfg)
	if err != nil {
		return err
	}
	defer closeAll()
	pause := awaitFirstPause
	for {
		err := check(ctx)
		if err == nil || ctx.Err() != nil {
			return nil
		}
		log.Error("a service refuses the configured connection; retrying", "err", err, "retry_in", pause.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, awaitMaxPause)
	}
}

// serviceChecks builds the clients of the checks once; check runs all of them and joins what
// fails.
func serviceChecks(cfg config.Config) (check func(context.Context) error, closeAll func(), err error) {
	rdb, err := connect.Redis(cfg.Redis)
	if err != nil {
		return nil, nil, err
	}
	checks := []func(context.Context) error{
		func(ctx context.Context) error { return connect.CheckKafka(ctx, cfg.Kafka) },
		func(ctx context.Context) error { return connect.CheckRedis(ctx, rdb, cfg.Redis) },
	}
	if cfg.SchemaRegistry.URL != "" {
		registry, err := connect.Registry(cfg.SchemaRegistry)
		if err != nil {
			_ = rdb.Close()
			return nil, nil, err
		}
		checks = append(checks, func(ctx context.Context) error { return connect.CheckRegistry(ctx, registry, cfg.SchemaRegistry) })
	}
	// Kafka's options are built by every check; build them once here so that a broken file is
	// reported as the permanent error it is.
	if _, err := connect.Kafka(cfg.Kafka); err != nil {
		_ = rdb.Close()
		return nil, nil, err
	}
	check = func(ctx context.Context) error {
		var errs []error
		for _, c := range checks {
			errs = append(errs, c(ctx))
		}
		return errors.Join(errs...)
	}
	return check, func() { _ = rdb.Close() }, nil
}

// startup is the readiness of a component that has not started yet: not ready, saying so, until
// Done hands over the component's own check.
type startup struct{ check atomic.Pointer[ops.Check] }

// Check is the readiness check named name.
func (s *startup) Check(name string) ops.Check {
	return ops.Check{Name: name, Probe: func(ctx context.Context) error {
		if c := s.check.Load(); c != nil {
			return c.Probe(ctx)
		}
		return errors.New("starting: waiting until Kafka, the schema registry and Redis accept the configured connection")
	}}
}

// Done makes the component's own check the readiness.
func (s *startup) Done(c ops.Check) { s.check.Store(&c) }
