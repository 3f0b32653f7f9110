// Package redis is the broker.Broker of cluster mode: a delivery published
// on any herald node reaches the pages of its room on every node, through
// one Redis Pub/Sub channel that every node subscribes to.
//
// # Order
//
// Every node, the publishing one included, hands deliveries to its pages
// in the order Redis put them on the channel: there is no node-local fast
// path, because one would let a node's own pages see its delivery before
// another node's earlier one. Journaled deliveries are published by the
// journal's append script itself (journal/redis Options.Publish; tell this
// broker with Options.JournalPublishes), so the channel carries a room's
// deliveries in offset order whichever node appended them, and Publish
// only counts the pages. Replays and deliveries the journal could not
// store are published here.
//
// The channel is a classic PUBLISH channel, not a sharded one (SPUBLISH):
// in Redis Cluster, a script may only SPUBLISH to a channel in its own
// slot, and the append and the publish must be one script to keep the
// order. Classic Pub/Sub works the same on a single server, Sentinel and
// Cluster (where the cluster bus forwards it to every shard).
//
// # Round trips
//
// A journaled delivery (every delivery in cmd/herald) costs the node one
// round trip on the sender's path: the journal's append script allocates
// the offset, stores and PUBLISHes the delivery and reads the room's
// presence hash, and hands the count over through Options.Counts, so
// Publish answers without a round trip of its own. Concurrent appends
// share one pipeline (journal/redis), and so do the marks of pages
// reached that the router records afterwards, off the sender's path.
// Other deliveries (replays, deliveries the journal could not store) cost
// at most one round trip: the PUBLISH and the presence read go in one
// pipeline, shared by concurrent Publish calls (up to maxBatch). State
// reports round_trips and counted_on_append.
//
// # Receiving
//
// One goroutine reads the channel and another hands what it read to the
// subscribers, in channel order. What piled up while the pages were being
// written to is handed over in one go (up to maxInbound): a subscriber
// that can take several deliveries at once (egress/socketio's
// Sink.DeliverAll) writes each page once for all of them, so a node that
// falls behind under load catches up with fewer writes rather than more.
//
// # Presence
//
// Each node writes, per room where it has pages, a field of the room's
// presence hash (same Cluster slot as the room's journal keys): its node
// id → "<pages>:<expiry ms>". It rewrites changed rooms when told a page
// joined or left (RoomsChanged) and every PresenceInterval, and renews all
// of them every PresenceTTL/3; readers
// ignore expired fields, so a node killed with SIGKILL drops out of the
// counts within PresenceTTL. Publish reports the sum over live fields: the
// pages in the room on every node, as of their last presence write. Each
// node also keeps a listing of its pages (for the admin /clients) under
// its node key, with the same expiry.
//
// # Redis lost while running
//
// When the subscription breaks, the node logs once, reports the state
// (State), and delivers its own Publish calls straight to its own pages,
// so alerts keep reaching the pages connected to the node that received
// them. It reconnects with backoff; once subscribed again it reads, for
// every room it has pages in, the journal after the last offset it
// delivered (re-sync), so what other nodes published while it was away
// still arrives, in order. A room this node first delivered to while
// unsubscribed (a new journal epoch: Redis came back empty) is read from
// the outage's start instead: its last offset says nothing of what other
// nodes appended meanwhile. A re-sync whose journal reads fail (a Redis
// that restarted answers SUBSCRIBE before it has loaded its data) is
// tried again, with the node's deliveries waiting behind it for up to
// ten seconds; if the node loses Redis again first, the next re-sync
// starts from the first loss, and what reached the node meanwhile waits
// for it.
//
// What a node delivered alone (Publish says so: broker.ErrLocalOnly) is
// journaled once Redis is back (the router's outbox,
// router.Journaled.KeepUnjournaled) and so reaches the other nodes' pages
// late. When its append timed out on a Redis that stalled rather than
// went away, Redis refuses to run it on resuming (journal/redis: each
// append carries its caller's deadline), unless it resumes within a moment
// of that deadline: then it runs the append script, which journals and
// publishes it; the outbox then finds it in the journal and does not
// journal or publish it again. A page never receives a delivery twice: every
// node remembers what it handed its pages (by event, room, name and
// offset) for DedupeWindow and drops a second copy. The journaled copy of
// a delivery its pages had without an offset is dropped too when it does
// not say which pages had it (an append that ran late); the outbox's
// copy names them (LiveTo), so it is handed over, those pages skip it
// (egress), and a page that came since (one that moved here during the
// outage) gets it.
package redis
