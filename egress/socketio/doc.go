// Package socketio is the egress that reaches OBS browser-source pages over
// Socket.IO v4, speaking the protocol of the original Python service: on
// connect the server emits WELCOME, the page answers REGISTER {code} and joins
// the room named by its code; every delivery for that code is emitted to the
// room with the payload as first argument and the event metadata as second.
//
// # One page model
//
// A page is one type (page.go) with one small interface to its connection;
// the protocol (protocol.go) is written once against it. Two connections
// implement it: the native WebSocket path (conn_native.go over
// internal/eio), which serves pages that open a WebSocket straight away
// (every notificationservice.js page), and the library path
// (conn_library.go), github.com/zishang520/socket.io for long-polling and
// upgrades from it. The native path exists because it is measured to be
// 4–5 times cheaper per delivery than the library (6.5–8 µs of CPU against
// ~30 µs, BENCHMARKS.md) and 5 times lighter per idle page (10.4 KB against
// 55 KB); the library keeps what the native path does not do: polling, the
// upgrade, and CORS for polling requests. None of the library's types
// appear in the package API.
//
// # Files
//
//   - sink.go: Options, Sink, lifecycle (New, Handler, Close, Clients).
//   - page.go: the page, its conn interface, the slow-page policy, the
//     per-delivery encoding shared by a room.
//   - protocol.go: connect (WELCOME, a code in the handshake), REGISTER,
//     code limits, and the hooks of recovery and acknowledgements.
//   - conn_native.go, conn_library.go: the two connections.
//   - rooms.go: our own code → pages membership, the source of truth for
//     Deliver and Clients.
//   - fanout.go: Deliver, which encodes a delivery once and hands it to
//     every page of a room.
//   - code.go: the log-safe form of a code.
package socketio
