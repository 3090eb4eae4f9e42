package processor_test

import (
	"context"
	"testing"

	"github.com/loyaltyhooks/loyaltyhooks/internal/redistest"
)

// TestOnRedisCluster runs the processor against a real three-node Redis Cluster, redis.url
// naming its nodes: lookups, claims, a deferred change with its holds, and expiry timers
// scheduled, scanned and fired, each script's keys in one slot. The keys must have gone to
// more than one node.
func TestOnRedisCluster(t *testing.T) {
	for name, run := range map[string]func(*testing.T, *timerEnv){"late member": lateMember, "expiry timers": expiryTimers} {
		t.Run(name, func(t *testing.T) {
			c := redistest.StartCluster(t, 3)
			run(t, timerEnvOf(t, newEnvOn(t, c.URL())))
			holding := 0
			for _, n := range c.Nodes {
				keys, err := n.Client().DBSize(context.Background()).Result()
				if err != nil {
					t.Fatal(err)
				}
				if keys > 0 {
					holding++
				}
			}
			if holding < 2 {
				t.Errorf("%d of %d nodes hold keys: the cluster was not used as one", holding, len(c.Nodes))
			}
		})
	}
}
