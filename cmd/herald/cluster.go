package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	rb "github.com/heraldhq/herald/broker/redis"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/twitch/auth"
	"github.com/heraldhq/herald/internal/lease"
	"github.com/heraldhq/herald/internal/redisconn"
	"github.com/heraldhq/herald/internal/redisvalues"
	"github.com/heraldhq/herald/internal/rediswire"
	rj "github.com/heraldhq/herald/journal/redis"
)

// redisStartTimeout bounds the first contact with Redis: cluster mode was
// asked for, so a Redis that does not answer stops the start.
const redisStartTimeout = 5 * time.Second

// cluster is what --redis adds to a node: the journal, the broker and the
// singleton lease every node shares through Redis.
type cluster struct {
	client  goredis.UniversalClient
	journal *rj.Store
	broker  *rb.Broker
	lease   *lease.Lease
}

// newRedisClient builds the client a --redis URL names:
//
//	redis://[user:pass@]host:6379/0                 one server
//	rediss://...                                     the same over TLS
//	redis://s1:26379/0?master_name=M&addr=s2:26379  Sentinel (master M)
//	redis://n1:6379?addr=n2:6379&addr=n3:6379       Redis Cluster (seeds)
//	redis://n1:6379?cluster=true                    Redis Cluster, one seed
func newRedisClient(raw string) (goredis.UniversalClient, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("--redis: want a redis:// or rediss:// URL, got scheme %q", u.Scheme)
	}
	q := u.Query()
	switch {
	case q.Has("master_name"):
		opts, err := goredis.ParseFailoverURL(raw)
		if err != nil {
			return nil, fmt.Errorf("--redis (Sentinel): %w", err)
		}
		boundTimeouts(q, &opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout)
		opts.ContextTimeoutEnabled, opts.MaxRetries = true, noRetries
		return guarded(goredis.NewFailoverClient(opts)), nil
	case q.Has("addr") || q.Get("cluster") == "true":
		q.Del("cluster")
		u.RawQuery = q.Encode()
		opts, err := goredis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("--redis (Cluster): %w", err)
		}
		boundTimeouts(q, &opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout)
		opts.ContextTimeoutEnabled, opts.MaxRetries = true, noRetries
		return guarded(goredis.NewClusterClient(opts)), nil
	default:
		opts, err := goredis.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("--redis: %w", err)
		}
		boundTimeouts(q, &opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout)
		opts.ContextTimeoutEnabled, opts.MaxRetries = true, noRetries
		return guarded(goredis.NewClient(opts)), nil
	}
}

// guarded keeps c off pooled connections Redis closed while they were
// idle (redisconn): go-redis checks for those itself on Unix over plain
// TCP only, so on Windows, or over TLS, each one failed its first command
// after a Redis restart.
func guarded(c goredis.UniversalClient) goredis.UniversalClient {
	redisconn.Guard(c)
	return c
}

// noRetries turns go-redis's own retries off (MaxRetries -1), whatever
// the URL says: it sends a command again after a read timeout or a broken
// connection, and herald's writes are not idempotent. An append retried
// after Redis took it but before it answered (a stall longer than a
// read_timeout shorter than the journal's 2 s, a kill) was journaled and
// sent to every page once per try. herald decides itself what a failed
// command means: an alert goes live and waits in the outbox, a page
// recovers later, a loop tries again.
const noRetries = -1

// redisTimeout is herald's default for the Redis client's dial, read and
// write timeouts (go-redis: 5 s, 3 s, 3 s), unless the URL sets them
// (dial_timeout=, read_timeout=, write_timeout=). An alert waits on Redis
// at most this long before it goes to the node's own pages anyway: when
// the network to Redis drops packets without closing anything, the
// client's own timeouts decide for a connection being set up, which
// ignores the caller's deadline. Every command also keeps to its caller's
// deadline (ContextTimeoutEnabled): without it go-redis waits for its own
// read timeout whatever the caller's deadline, and a Redis that stalls
// (frozen, its port still accepting) holds a node's alerts that long, and
// the locks that keep a room's alerts in order with them.
const redisTimeout = 2 * time.Second

// boundTimeouts applies redisTimeout to the timeouts the URL's query q
// leaves unset.
func boundTimeouts(q url.Values, dial, read, write *time.Duration) {
	for _, t := range []struct {
		key string
		d   *time.Duration
	}{{"dial_timeout", dial}, {"read_timeout", read}, {"write_timeout", write}} {
		if !q.Has(t.key) {
			*t.d = redisTimeout
		}
	}
}

// redactedURL is the URL without its password, for logs and errors.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// openCluster connects to Redis and builds the shared journal and the
// broker that carries deliveries to every node; sink is this node's pages.
// Redis not answering is an error: the node must not run alone believing
// it is part of a cluster.
func openCluster(raw string, ss sinks, log *slog.Logger) (*cluster, error) {
	// go-redis logs every failed dial on its own; while Redis is away that
	// would be a line per attempt. Herald logs the outage once (broker,
	// journal); go-redis's own lines go to DEBUG. SetLogger is global: main
	// is the one place allowed to set it.
	goredis.SetLogger(redisLog{log.With("component", "go-redis")})
	client, err := dialRedis(context.Background(), raw)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*cluster, error) {
		_ = client.Close()
		return nil, fmt.Errorf("cluster mode: Redis at %s: %w", redactedURL(raw), err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), redisStartTimeout)
	defer cancel()
	node := nodeID()
	// The append script publishes each delivery and counts its room's
	// pages: with the broker's own (batched) work, a trigger costs one
	// round trip, shared with concurrent ones.
	counts := rediswire.NewCounts(node)
	jr, err := rj.Open(sctx, client, rj.Options{Publish: true, Counts: counts, Log: log.With("component", "journal")})
	if err != nil {
		return fail(err)
	}
	opts := rb.Options{NodeID: node, Journal: jr, JournalPublishes: true, Counts: counts, Log: log.With("component", "broker"),
		HeldFor: egress.HeldFor}
	opts.Rooms = func() map[string]int { return roomCounts(ss.Clients()) }
	opts.Listing = func() []byte {
		// Sorted, so an unchanged set of pages is an unchanged listing and
		// is not rewritten on every presence poll.
		cs := nonNil(ss.Clients())
		slices.SortFunc(cs, func(a, b egress.Client) int { return strings.Compare(a.ID, b.ID) })
		b, _ := json.Marshal(cs)
		return b
	}
	if len(ss) == 1 {
		// One sink that counts its pages cheaply: presence without building
		// the listing, and this node's share of a count exact.
		if c, ok := ss[0].(roomCounter); ok {
			opts.Rooms, opts.LocalPages = c.Rooms, c.Pages
		}
	}
	br := rb.New(client, opts)
	for _, sink := range ss {
		br.Subscribe(sink)
		if w, ok := sink.(egress.RoomWatcher); ok {
			w.OnRoomsChanged(br.RoomsChanged)
		}
	}
	if err := br.Start(sctx); err != nil {
		_ = jr.Close()
		return fail(err)
	}
	ls := lease.New(client, rj.DefaultPrefix+"lease:singletons", lease.Options{Owner: node, Log: log.With("component", "lease")})
	log.Info("cluster mode", "redis", redactedURL(raw), "node", node, "epoch", jr.Epoch())
	return &cluster{client: client, journal: jr, broker: br, lease: ls}, nil
}

// sharedValues is the cluster's store of values its nodes share
// (ingress.SharedStore), such as the Twitch login.
func sharedValues(c goredis.UniversalClient) redisvalues.Store {
	return redisvalues.Store{Client: c, Prefix: rj.DefaultPrefix + "shared:"}
}

// loginCopyEvery is how often a node brings its copy of the cluster's
// Twitch login up to date (auth.Shared's Load), holding the Twitch
// session or not: after a Redis that restarted empty any node's copy is
// then current enough to be shared, and a logout deletes every copy.
const loginCopyEvery = 30 * time.Second

// keepLoginCopy runs Load on store now and every loginCopyEvery until
// ctx ends.
func keepLoginCopy(ctx context.Context, store auth.TokenStore) {
	load := func() { _, _ = store.Load() } // no login, or Redis away: nothing to copy now
	load()
	every(ctx, loginCopyEvery, load)
}

// shareUnsharedEvery is how often a node records in Redis the webhook ids
// it took while Redis was away (router.ShareUnshared), so that a retry
// sent to another node after the outage is recognised there too.
const shareUnsharedEvery = 5 * time.Second

// every runs fn every period until ctx ends.
func every(ctx context.Context, period time.Duration, fn func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// dialRedis connects to the Redis a --redis URL names and checks that it
// answers, within redisStartTimeout.
func dialRedis(ctx context.Context, raw string) (goredis.UniversalClient, error) {
	client, err := newRedisClient(raw)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, redisStartTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("cluster mode: Redis at %s: unreachable: %w", redactedURL(raw), err)
	}
	return client, nil
}

// redisLog hands go-redis's log lines to slog at DEBUG.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	if l.log.Enabled(ctx, slog.LevelDebug) {
		l.log.DebugContext(ctx, fmt.Sprintf(format, v...))
	}
}

// nodeID names this node in presence records and the lease: the host
// name and the process id, readable in /api/cluster and Redis.
func nodeID() string {
	host, err := os.Hostname()
	if err != nil {
		host = "node"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// roomCounter is the capability of a sink that counts its pages per room
// cheaply (egress/socketio): this node's share of the cluster's counts.
type roomCounter interface {
	Rooms() map[string]int
	Pages(room string) int
}

// roomCounts counts registered pages per code.
func roomCounts(cs []egress.Client) map[string]int {
	out := map[string]int{}
	for _, c := range cs {
		if c.Code != "" {
			out[c.Code]++
		}
	}
	return out
}

// clients lists the pages of every node, from their presence listings.
func (c *cluster) clients(ctx context.Context) ([]egress.Client, error) {
	lists, err := c.broker.Listings(ctx)
	if err != nil {
		return nil, err
	}
	var out []egress.Client
	for _, raw := range lists {
		var cs []egress.Client
		if json.Unmarshal(raw, &cs) == nil {
			out = append(out, cs...)
		}
	}
	return out, nil
}

// close releases the client once the broker and journal are closed (the
// router's Journaled closes the broker; the server closes the journal).
func (c *cluster) close() {
	_ = c.client.Close()
}

// clusterStatus is GET /api/cluster.
type clusterStatus struct {
	Broker      rb.State `json:"broker"`
	LeaseHolder bool     `json:"lease_holder"`
	Epoch       string   `json:"epoch"`
}

func (c *cluster) statusHandler() http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		ingress.WriteJSON(w, http.StatusOK, c.status())
	}
}

func (c *cluster) status() clusterStatus {
	return clusterStatus{Broker: c.broker.State(), LeaseHolder: c.lease.Held(), Epoch: c.journal.Epoch()}
}
