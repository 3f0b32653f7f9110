// Package redis is the journal.Journal of cluster mode: every herald node
// of a cluster opens it on the same Redis (a single server, Sentinel or
// Redis Cluster, through go-redis's UniversalClient) and so agrees on each
// room's offsets, history, page sessions, pending deliveries and the
// webhook ids already seen.
//
// # Keys
//
// All keys start with Options.Prefix ("herald:"). A room's keys share one
// hash tag, {r:H} with H a hash of the room, so they live in one Redis
// Cluster slot and one Lua script may touch them all. The room itself
// (a code, which is a secret) never appears in a key name.
//
//	P{r:H}:m      hash   e = epoch the room belongs to, n = last offset (no expiry)
//	P{r:H}:l      stream the history; id "<offset>-0", fields d (delivery JSON), t (ms)
//	P{r:H}:c      hash   r:<offset>, a:<offset>: pages reached, acks received;
//	                     l:<offset>: pids added to the entry's LiveTo (MarkLive)
//	P{r:H}:p      hash   presence, written by broker/redis
//	Pepoch        string the store's epoch
//	Pev:<id>      list   rooms an event id was delivered to, in order (Find)
//	Ps:<pid>      string a page session (JSON), expiring with it
//	Pseen:<key>   string a webhook message id, expiring with the window
//
// Streams are the history because they are what Redis offers for an
// ordered, range-readable, trimmable log: XRANGE from an offset is a
// recovery, XADD MAXLEN is count retention. Entry ids are the offsets
// themselves ("<offset>-0"), so no second index maps offsets to ids.
//
// # One round trip per append, shared under load
//
// Append is one Lua script (allocate the offset with HINCRBY, XADD,
// retention, and with Options.Publish the PUBLISH that carries the
// delivery to every node) pipelined with the event index update: one
// round trip, and no other node can slip an entry between the offset, the
// append and the publish, so every node receives a room's deliveries in
// offset order. Publishing after the append instead (from the node, as a
// second step) would let node B's offset 8 overtake node A's offset 7 on
// the channel, and a page would then skip 7 when it recovers. With
// Options.Counts the script also reads the room's presence hash (same
// slot) and returns the pages in the room, so the broker needs no round
// trip to count them.
//
// Appends queued while the previous round trip is out go together in one
// pipeline (batcher): a lone append waits for nothing but its own answer,
// and under load many share a round trip. Append still returns only once
// Redis answered its own script. Marks go the same way, with one script
// call per room; the router gathers its marks for MarkLinger (2 ms) before
// recording them, so even a light load shares round trips.
//
// # Retention without a scanner
//
// Count retention is XADD MAXLEN. Age retention is amortised on append:
// the script drops the head entries older than MaxAge (entries are in time
// order). A room that stops receiving appends is covered by the log's
// expiry, renewed to MaxAge on every append: once the room is idle for
// MaxAge, all its entries are older than MaxAge and the key goes. Reads
// filter by age too, so retention holds exactly as seen from outside even
// while a trim is pending. The room's counter (P{r:H}:m) never expires:
// offsets must never be reused, and Redis cannot tell a retired code from
// a quiet one. It costs about 100 bytes per room ever used. Lowering
// MaxEntries (a rules reload) takes effect on reads at once (a room's
// offsets have no gaps, so the newest N are the N below the top) and in
// memory at the room's next append or expiry.
//
// # Epochs
//
// Redis may lose data (a restart without persistence, FLUSHALL, a failover
// to an empty replica). Offsets would then start again from 1, and a page
// recovering from offset 57 of the lost history would silently miss
// entries 1..57 of the new one. So every room's counter records the epoch
// it was created in, and every append names the epoch the node believes
// in; the script refuses when they differ, and a room with no counter is
// created only after the node has checked the epoch key (SET NX: the first
// node to see it missing mints a new epoch, every other node reads that
// one). A room found under an epoch that is not the current one is reset.
// Nodes also check the epoch key every second in the background, so
// Epoch() moves within a second of a loss even on a node that does not
// append. Page sessions go with the lost history; the Socket.IO sink
// saves those of its connected pages again once it sees Epoch() move.
//
// Known limit: in Redis Cluster, a shard that loses its data while the
// shard holding the epoch key keeps it resets the offsets of the rooms in
// its slots under the same epoch. Run Cluster shards with replicas (and
// preferably persistence); the same holds for any store whose disk is lost.
//
// # Durability
//
// Append returns once Redis acknowledged the script: on a server without
// persistence that is memory only. Use appendonly yes (fsync everysec or
// always) where "answered 2xx" must survive a Redis restart. Redis must
// not evict journal keys behind herald's back: run it with
// maxmemory-policy noeviction.
package redis
