package ops

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Assigned holds while the consumer owns at least one partition.
func Assigned(partitions func() int) Check {
	return Check{Name: "assigned", Probe: func(context.Context) error {
		if partitions() == 0 {
			return errors.New("no partitions assigned")
		}
		return nil
	}}
}

// Broker holds while a broker of the cluster answers cl.
func Broker(cl *kgo.Client) Check {
	return Check{Name: "broker", Probe: func(ctx context.Context) error {
		if err := cl.Ping(ctx); err != nil {
			return fmt.Errorf("unreachable: %w", err)
		}
		return nil
	}}
}

// Redis holds while Redis answers PING.
func Redis(rdb redis.UniversalClient) Check {
	return Check{Name: "redis", Probe: func(ctx context.Context) error {
		if err := rdb.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("unreachable: %w", err)
		}
		return nil
	}}
}
