//go:build faultsuite

package main

// TEST-ONLY. This file is compiled only with `-tags faultsuite`, which the fault-injection suite
// (internal/faultsuite) uses for the binary it runs against deliberately broken claimers, to
// show that the suite fails when dedup is wrong. Release builds never contain it.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loyaltyhooks/loyaltyhooks/config"
	"github.com/loyaltyhooks/loyaltyhooks/internal/connect"
	"github.com/loyaltyhooks/loyaltyhooks/processor"
	"github.com/loyaltyhooks/loyaltyhooks/processor/claim"
)

// brokenClaimerEnv selects a broken claimer: "none" (no dedup at all) or "setnx" (a plain
// SET NX that forgets whose claim it is).
const brokenClaimerEnv = "LOYALTYHOOKS_FAULTSUITE_CLAIMER"

func init() {
	processorOptions = func(cfg config.Config) ([]processor.Option, error) {
		switch v := os.Getenv(brokenClaimerEnv); v {
		case "":
			return nil, nil
		case "none":
			return []processor.Option{processor.WithClaimer(claim.EmitAll{})}, nil
		case "setnx":
			rdb, err := connect.Redis(cfg.Redis)
			if err != nil {
				return nil, err
			}
			c := claim.NewRedis(rdb, cfg.Redis.KeyPrefix, cfg.Processor.DedupTTL)
			return []processor.Option{processor.WithClaimer(&setNX{rdb: rdb, keys: c, ttl: cfg.Processor.DedupTTL})}, nil
		default:
			return nil, fmt.Errorf("%s: %q is not none or setnx", brokenClaimerEnv, v)
		}
	}
}

// setNX is the naive claim: SET key 1 NX, emit when it was set. When a transaction aborts after
// its claims (a crash between claim and commit), the replayed batch finds its own claims and
// drops them: those events are lost.
type setNX struct {
	rdb  redis.UniversalClient
	keys *claim.Redis
	ttl  time.Duration
}

func (s *setNX) Claim(ctx context.Context, claims []claim.Claim) error {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.BoolCmd, len(claims))
	for i := range claims {
		key, err := s.keys.Key(claims[i].MessageID)
		if err != nil {
			return err
		}
		cmds[i] = pipe.SetNX(ctx, key, 1, s.ttl)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	for i, cmd := range cmds {
		claims[i].Emit = cmd.Val()
	}
	return nil
}
