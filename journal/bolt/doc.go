// Package bolt is herald's default journal store: one bbolt file,
// herald.db, in the data directory (created on first run, mode 0700; the
// file is 0600 because it holds donor names and messages).
//
// # Layout
//
// Keys are ordered so that reading a room's history is one range scan:
//
//	meta             "epoch" → the history's name, "format" → 1
//	log/<room>       big-endian offset → entry record (see record.go)
//	last             room → big-endian last offset handed out
//	events           len-prefixed event id, len-prefixed room, offset → ""
//	sessions         pid → expiry, code
//	seen             key → big-endian expiry (Unix nanoseconds)
//
// # Order of operations
//
// Every write goes through one committer goroutine. It takes whatever is
// queued (up to maxBatch operations), runs it in one read-write
// transaction and commits it, which is one fsync'd write for the whole
// group; then it answers every caller. An Append returns only after that
// commit, so a trigger answered 2xx after Append survives a kill -9. While
// one commit is on disk the next group queues up, so the batch grows with
// load and a lone append pays one commit, not a timer.
//
// An entry's offset is the room's "last" counter plus one, and the counter
// is written in the same transaction as the entry: a crash either keeps
// both or neither, so an offset a caller ever saw is never handed out
// again, and trimming a room empty keeps its counter.
//
// Pages see an offset only after Append returned, that is after the commit.
//
// # Faults
//
// A file that bbolt cannot open as a database, or whose pages fail bbolt's
// consistency check, is renamed herald.db.corrupt-<UTC time> and a new
// file with a new epoch is started; the reason is logged at ERROR and kept
// in Stats.LastError. A file held by another process is an error, never
// moved. A write that fails (disk full, I/O error, the size bound reached)
// fails its callers and is counted; herald delivers live regardless. The
// file never grows past Options.MaxBytes: appends fail until trimming
// frees pages.
package bolt
