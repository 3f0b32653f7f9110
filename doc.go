// Package herald holds the domain types that every other package of the
// server shares: the normalised [Event] an ingress produces, the [Delivery]
// the router hands to egress, and the [Publisher] contract between them.
//
// It is the leaf of the import graph: it imports only the standard library,
// and everything else imports it. Keep it to types and tiny helpers; logic
// belongs in router, rules, ingress or egress.
//
// # The original service
//
// herald replaces a small Python notification service (aiohttp and
// python-socketio, run as "notiservice") that many streamers' overlays were
// written for. Comments call it "the original service" (older ones, "the
// seed"): its trigger URL (/notify and its answer), its page protocol
// (WELCOME, REGISTER {code}, one Socket.IO room per code) and its flags are
// kept byte for byte, so those pages and bots work unchanged.
package herald
