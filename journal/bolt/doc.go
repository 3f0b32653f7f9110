// Package bolt is herald's default journal store: one bbolt file,
// herald.db, and its write-ahead log, herald.wal, in the data directory
// (created on first run, mode 0700; the files are 0600 because they hold
// donor names and messages).
//
// # Layout
//
// Every entry is one record at the end of one log, whatever its room, so
// a group commit writes a few contiguous pages however many rooms it
// touches (a bucket per room dirtied a page per room per commit: with 100
// busy rooms that cost three quarters of the durable rate):
//
//	meta             "epoch" → the history's name, "format" → 3,
//	                 "wal" → the write-ahead log's current generation
//	log              big-endian sequence number → entry record (record.go),
//	                 which holds its room and its offset in the room
//	last             room → its offsets reserved so far (see below)
//	sessions         pid → since, former pid, expiry, code (record.go)
//	seen             key → big-endian expiry (Unix nanoseconds)
//
// Which records belong to which room is an index in memory (index.go),
// rebuilt from the log at open: 32 bytes per entry (with its counters), so
// the default retention (200 per room) costs about 6 KB per room. Find
// (one alert by event id, an operator's replay) scans the log.
//
// # Order of operations
//
// Every write goes through one committer goroutine. It takes whatever is
// queued (up to maxBatch operations), applies it to a bbolt transaction it
// keeps open, appends the group's operations to the write-ahead log as
// one frame and fdatasyncs it (wal.go); then it answers every caller.
// While one group is on disk the next queues up, so the batch grows with
// load and a lone append pays one sync, not a timer. About once a second
// the open transaction is committed to herald.db (a checkpoint, which
// moves the log on to its next generation in the same commit); at open
// the current generation's frames are redone. Readers find what the
// groups wrote since the checkpoint in the tail (tail.go). Every write
// takes effect through redo, the code that replays the log, so what a
// restart rebuilds is what the live process had.
//
// An entry gets its offset when it is queued (Stage), so the router can
// send it to pages while the commit is on disk; Append, and the durable
// function Stage returns, return only after the commit, so a trigger
// answered 2xx survives a kill -9. Offsets are handed out in queue order,
// one room's counter plus one. Because a page may hold an offset whose
// entry a crash then lost, the counter is reserved on disk ahead of use,
// 1,024 at a time, in the last bucket; the append that crosses a
// reservation waits for the commit that extends it. At open a room's
// counter is the higher of its newest record and its reservation, so an
// offset a page or a caller ever saw is never handed out again (after a
// crash a room skips to past its reservation; Close gives back what it did
// not use, so a clean restart leaves no gap). Reads first wait for the
// entries queued before them, so a page recovering while a commit is on
// disk still finds every delivery that may have reached a page.
//
// Appends never trim: the trimmer runs when a room went over its limit
// (at most every 250 ms) and deletes runs of old records at once.
//
// Marks (pages reached, acks) change the counters in the index at once
// and reach the records with the next commit, so under load they cost no
// commit of their own; a quiet journal commits them 100 ms after the last
// one, and Close commits what is left. A mark that finds no entry (a page
// acknowledged an alert before its commit was done) waits for the entries
// queued before it and tries once more.
//
// # Faults
//
// A file that bbolt cannot open as a database, or whose pages fail bbolt's
// consistency check, is renamed herald.db.corrupt-<UTC time> and a new
// file with a new epoch is started; the reason is logged at ERROR and kept
// in Stats.LastError. A file held by another process is an error, never
// moved. A write that fails (disk full, I/O error, the size bound reached)
// fails its callers and is counted, and the open transaction is rebuilt
// from the log; herald delivers live regardless. A checkpoint that fails
// leaves herald.db as it was and is tried again; the log keeps every
// write meanwhile. The file stays within Options.MaxBytes (but for one
// of bbolt's growth steps while a full file trims itself back, see
// Store.trimAlone), and the log within a sixteenth of it: appends fail
// until trimming frees pages.
package bolt
