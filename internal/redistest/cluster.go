package redistest

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// slots is how many hash slots a Redis Cluster has.
const slots = 16384

// Cluster is a Redis Cluster of redis-server child processes, every node a primary with its
// share of the slots.
type Cluster struct {
	Nodes []*Server
	t     testing.TB
}

// StartCluster runs n redis-servers in cluster mode on free ports, splits the slots between them
// and waits until every node reports the cluster ok; they are stopped when the test ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	for range n {
		s := &Server{Dir: t.TempDir(), t: t}
		s.more = []string{"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(s.Dir, "nodes.conf"),
			"--cluster-node-timeout", "5000"}
		s.start()
		t.Cleanup(s.Stop)
		c.Nodes = append(c.Nodes, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clients := make([]*redis.Client, n)
	for i, s := range c.Nodes {
		clients[i] = redis.NewClient(s.options())
		defer clients[i].Close()
		lo, hi := i*slots/n, (i+1)*slots/n-1
		if err := clients[i].ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			t.Fatalf("redistest: %s: add slots %d-%d: %v", s, lo, hi, err)
		}
		if i > 0 {
			if err := clients[0].ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(s.port)).Err(); err != nil {
				t.Fatalf("redistest: %s meets %s: %v", c.Nodes[0], s, err)
			}
		}
	}
	want := []string{"cluster_state:ok", "cluster_slots_ok:" + strconv.Itoa(slots), "cluster_known_nodes:" + strconv.Itoa(n)}
	for i, rc := range clients {
		for {
			info, err := rc.ClusterInfo(ctx).Result()
			if err == nil && containsAll(info, want) {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("redistest: %s: cluster not ok: %v\n%s", c.Nodes[i], err, info)
			}
			time.Sleep(20 * time.Millisecond) // polling the node's view: there is nothing to wait on
		}
	}
	return c
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// URL returns the cluster's redis.url: the first node, the others as addr parameters.
func (c *Cluster) URL() string {
	var b strings.Builder
	fmt.Fprintf(&b, "redis://%s", c.Nodes[0].Addr)
	for i, s := range c.Nodes[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		fmt.Fprintf(&b, "%saddr=%s", sep, s.Addr)
	}
	return b.String()
}

// Client returns a new client of the cluster, closed when the test ends.
func (c *Cluster) Client() *redis.ClusterClient {
	var addrs []string
	for _, s := range c.Nodes {
		addrs = append(addrs, s.Addr)
	}
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	c.t.Cleanup(func() { _ = rc.Close() })
	return rc
}
