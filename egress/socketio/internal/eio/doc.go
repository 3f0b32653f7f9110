// Package eio is a small Engine.IO v4 / Socket.IO v5 server for pages that
// connect straight over WebSocket (transport=websocket, no polling first):
// the official client with transports: ["websocket"], and raw Engine.IO
// pages such as load generators.
//
// It exists for the fan-out path. A delivery is framed once (Frame) and the
// same bytes go to every page: a page whose queue is empty gets them in one
// non-blocking write made by the sender (on unix; write_unix.go), and
// whatever does not fit is queued and flushed by a short-lived writer that
// sends everything queued in one writev, so an alert costs at most one
// system call per page and a burst to a slow page one per batch. A room's
// delivery goes through a Batch (batch.go), which on Linux makes those
// non-blocking writes for up to 64 pages in one io_uring submission
// (uring_linux.go), and one write each where io_uring is refused. The Conn
// is its socket's only writer: gorilla/websocket's own close frames go
// through its queue (guard.go). One
// goroutine runs the heartbeat of every connection instead of two timers
// per page. Everything else (long-polling, upgrades from polling, other
// namespaces' clients) stays with the Socket.IO library.
//
// Only what herald's pages use is implemented: the default namespace,
// text packets, events with JSON arguments and acknowledgements of client
// events. A connect to another namespace gets the protocol's CONNECT_ERROR;
// binary packets and frames are ignored.
package eio
