package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of real redis-server processes, each a
// master owning an equal share of the 16,384 slots, stopped when the test
// ends.
type Cluster struct {
	Nodes []*Server
}

// StartCluster runs a Redis Cluster of n masters for t and waits until
// every node reports the cluster ok. In cluster mode Redis refuses a
// command or script whose keys live in different slots (CROSSSLOT), even
// when one node serves both: code that passes here keeps a room's keys
// together.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{}
	for range n {
		c.Nodes = append(c.Nodes, startWith(t, "--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	const slots = 16384
	for i, s := range c.Nodes {
		cl := goredis.NewClient(&goredis.Options{Addr: s.Addr()})
		err := cl.ClusterAddSlotsRange(ctx, i*slots/n, (i+1)*slots/n-1).Err()
		if err == nil && i > 0 {
			err = cl.ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(c.Nodes[0].port)).Err()
		}
		_ = cl.Close()
		if err != nil {
			t.Fatalf("redistest: cluster node %s: %v", s.Addr(), err)
		}
	}
	for _, s := range c.Nodes {
		cl := goredis.NewClient(&goredis.Options{Addr: s.Addr()})
		for {
			info, err := cl.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", n)) {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("redistest: cluster node %s not ok within %v: %s %v", s.Addr(), startTimeout, info, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
		_ = cl.Close()
	}
	return c
}

// URL is the --redis URL naming every node as a seed.
func (c *Cluster) URL() string {
	u := "redis://" + c.Nodes[0].Addr()
	for i, s := range c.Nodes[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + s.Addr()
	}
	return u
}

// SeedURL is the --redis URL naming node i alone as the seed.
func (c *Cluster) SeedURL(i int) string {
	return "redis://" + c.Nodes[i].Addr() + "?cluster=true"
}

// Client returns a new cluster client, closed when the test ends.
func (c *Cluster) Client(t testing.TB) *goredis.ClusterClient {
	var addrs []string
	for _, s := range c.Nodes {
		addrs = append(addrs, s.Addr())
	}
	cl := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// Sentinel is a redis-server in Sentinel mode watching one master.
type Sentinel struct {
	*Server
	Master     *Server
	MasterName string
}

// StartSentinel runs a Sentinel for t that monitors master under the name
// "herald" (quorum 1) and waits until it answers for it.
func StartSentinel(t testing.TB, master *Server) *Sentinel {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	// Sentinel rewrites its file as it learns; it must be its own.
	body := fmt.Sprintf("sentinel monitor herald 127.0.0.1 %d 1\nsentinel down-after-milliseconds herald 5000\n", master.port)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	s := &Sentinel{Server: startWithConf(t, conf, "--sentinel"), Master: master, MasterName: "herald"}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	sc := goredis.NewSentinelClient(&goredis.Options{Addr: s.Addr()})
	defer sc.Close()
	for {
		addr, err := sc.GetMasterAddrByName(ctx, s.MasterName).Result()
		if err == nil && len(addr) == 2 && net.JoinHostPort(addr[0], addr[1]) == master.Addr() {
			return s
		}
		select {
		case <-ctx.Done():
			t.Fatalf("redistest: Sentinel %s does not name master %s: %v %v", s.Addr(), master.Addr(), addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// URL is the --redis URL that reaches the master through this Sentinel.
func (s *Sentinel) URL() string {
	return "redis://" + s.Addr() + "/0?master_name=" + s.MasterName
}

// startWithConf starts redis-server with a config file first (Sentinel
// mode needs one) and the usual options after it.
func startWithConf(t testing.TB, conf string, args ...string) *Server {
	t.Helper()
	return launch(t, &Server{t: t, bin: Binary(t), dir: t.TempDir(), conf: conf, args: args})
}
