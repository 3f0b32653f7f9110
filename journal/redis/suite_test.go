package redis_test

import (
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
// restart: Redis kept everything).
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
		}))
}
