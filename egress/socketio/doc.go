// Package socketio is the egress that reaches OBS browser-source pages over
// Socket.IO v4, speaking the protocol of the original Python service: on
// connect the server emits WELCOME, the page answers REGISTER {code} and joins
// the room named by its code; every delivery for that code is emitted to the
// room with the payload as first argument and the event metadata as second.
//
// The package wraps github.com/zishang520/socket.io; none of that library's
// types appear in its API.
//
// # Files
//
//   - sink.go: Options, Sink, lifecycle (New, Handler, Close, Clients).
//   - handshake.go: what happens when a page connects or sends REGISTER.
//   - rooms.go: our own code → pages membership, the source of truth for
//     Deliver and Clients.
//   - fanout.go: Deliver, which encodes a packet once and writes it to every
//     page of a room.
//   - code.go: the log-safe form of a code.
package socketio
