package redis_test

import (
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/journaltest"
	rj "github.com/heraldhq/herald/journal/redis"
)

// TestSuite runs the behavioural suite every store passes against a
// real redis-server: each store gets a server of its own (empty), and
// reopening is a new Store on a new client of the same server (a herald
// restart: Redis kept everything), as is a peer (another node).
func TestSuite(t *testing.T) {
	servers := map[journal.Journal]*redistest.Server{}
	open := func(t *testing.T, srv *redistest.Server) journal.Journal {
		c := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
		t.Cleanup(func() { _ = c.Close() })
		s, err := rj.Open(t.Context(), c, rj.Options{CheckInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		servers[s] = srv
		return s
	}
	journaltest.Run(t,
		func(t *testing.T) journal.Journal { return open(t, redistest.Start(t)) },
		journaltest.Reopen(func(t *testing.T, old journal.Journal) journal.Journal {
			_ = old.Close()
			return open(t, servers[old])
		}),
		journaltest.Peer(func(t *testing.T, j journal.Journal) journal.Journal { return open(t, servers[j]) }))
}

// TestSuiteOnRedisCluster runs the same suite on a Redis Cluster of three
// masters, where a script or command whose keys span slots is refused
// (CROSSSLOT): every store gets a prefix of its own on one shared cluster,
// and reopening is a new Store with the same prefix on a new client.
func TestSuiteOnRedisCluster(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	prefixes := map[journal.Journal]string{}
	n := 0
	open := func(t *testing.T, prefix string) journal.Journal {
		s, err := rj.Open(t.Context(), cluster.Client(t), rj.Options{Prefix: prefix, CheckInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		prefixes[s] = prefix
		return s
	}
	journaltest.Run(t,
		func(t *testing.T) journal.Journal {
			n++
			return open(t, fmt.Sprintf("herald%d:", n))
		},
		journaltest.Reopen(func(t *testing.T, old journal.Journal) journal.Journal {
			_ = old.Close()
			return open(t, prefixes[old])
		}),
		journaltest.Peer(func(t *testing.T, j journal.Journal) journal.Journal { return open(t, prefixes[j]) }))
}
