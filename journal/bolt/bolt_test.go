package bolt_test

import (
	"context"
	"fmt"
	"slices"
	"time"

	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/bolt"
	"github.com/heraldhq/herald/journal/journaltest"
)

func open(t testing.TB, dir string) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

func TestJournal(t *testing.T) {
	journaltest.Run(t,
		func(t *testing.T) journal.Journal { return open(t, t.TempDir()) },
		journaltest.Reopen(func(t *testing.T, old journal.Journal) journal.Journal {
			s := old.(*bolt.Store)
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return open(t, filepath.Dir(s.Path()))
		}))
}

// TestQuietMarkIsCommitted: a mark with no append after it still reaches
// the file on its own (a short while later), so a page's "reached" and its
// acks are not left in memory until the next alert.
func TestQuietMarkIsCommitted(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	e, err := s.Append(t.Context(), delivery("r", "e", "x"))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := s.BatchStats()
	if err := s.Mark(t.Context(), "r", e.Offset, 1, 1); err != nil {
		t.Fatal(err)
	}
	// Readers see the mark at once, before it is on disk.
	if got, err := s.Pending(t.Context(), "r", time.Time{}); err != nil || len(got) != 0 {
		t.Errorf("Pending right after a mark = %d entries, %v; want none (the entry reached a page)", len(got), err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, _ := s.BatchStats(); c > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the mark was never committed while the journal was quiet")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStagedEntryIsReadable: a page may receive a staged entry before its
// commit, so a reader asking at that moment (a page recovering, another
// registering for pending alerts) must find it, not a hole.
func TestStagedEntryIsReadable(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := t.Context()
	var durables []func(context.Context) error
	var offs []uint64
	for i := range 20 {
		e, durable, err := s.Stage(ctx, delivery("r", fmt.Sprint("e", i), "x"))
		if err != nil {
			t.Fatal(err)
		}
		durables = append(durables, durable)
		offs = append(offs, e.Offset)
	}
	// Nobody waited for a commit yet.
	got, err := s.After(ctx, "r", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var have []uint64
	for _, e := range got {
		have = append(have, e.Offset)
	}
	if !slices.Equal(have, offs) {
		t.Errorf("After right after staging = %v, want every staged offset %v", have, offs)
	}
	for _, d := range durables {
		if err := d(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAckBeforeCommitCounts: a page gets a staged entry while its commit
// is on disk and may acknowledge it at once; the ack must count, not be
// dropped because the entry was not indexed yet.
func TestAckBeforeCommitCounts(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := t.Context()
	var durables []func(context.Context) error
	for i := range 20 {
		e, durable, err := s.Stage(ctx, delivery("r", fmt.Sprint("e", i), "x"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Mark(ctx, "r", e.Offset, 0, 1); err != nil {
			t.Fatal(err)
		}
		durables = append(durables, durable)
	}
	for _, d := range durables {
		if err := d(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.After(ctx, "r", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	acked := 0
	for _, e := range got {
		acked += e.Acked
	}
	if len(got) != 20 || acked != 20 {
		t.Errorf("%d entries with %d acks, want 20 with one ack each", len(got), acked)
	}
}

// TestOffsetsStayDenseAcrossReservations: offsets are reserved on disk a
// block at a time; crossing a block must not leave a gap (only a restart
// after a crash skips the rest of a block).
func TestOffsetsStayDenseAcrossReservations(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	s.SetRetention(journalRetention(5000))
	var want uint64
	var durables []func(context.Context) error
	for i := range 2100 {
		e, durable, err := s.Stage(t.Context(), delivery("r", fmt.Sprint("e", i), "x"))
		if err != nil {
			t.Fatal(err)
		}
		durables = append(durables, durable)
		if want++; e.Offset != want {
			t.Fatalf("append %d got offset %d, want %d (no gap without a restart)", i, e.Offset, want)
		}
	}
	for _, d := range durables {
		if err := d(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCleanRestartKeepsOffsetsDense: offsets are reserved on disk ahead of
// use, so a crash skips past the reservation; a clean Close gives back
// what it did not use, and the next start continues where it stopped.
func TestCleanRestartKeepsOffsetsDense(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	for i := range 3 {
		if _, err := s.Append(t.Context(), delivery("r", fmt.Sprint("e", i), "x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	defer s.Close()
	e, err := s.Append(t.Context(), delivery("r", "e3", "x"))
	if err != nil || e.Offset != 4 {
		t.Errorf("first offset after a clean restart = %d, %v; want 4", e.Offset, err)
	}
}

// TestLiveSessions: the sessions listed at start are the ones not yet
// expired, the newest value of each, and they survive a reopen.
func TestLiveSessions(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ctx := context.Background()
	now := time.Now()
	for _, sess := range []journal.Session{
		{PID: "p1", Code: "old-room", Expires: now.Add(time.Hour)},
		{PID: "p1", Code: "alice", Expires: now.Add(time.Hour)}, // p1 changed code
		{PID: "p2", Code: "bob", Expires: now.Add(time.Hour), Since: 7},
		{PID: "p3", Code: "gone", Expires: now.Add(-time.Second)},
	} {
		if err := s.SaveSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}
	codes := func(s *bolt.Store) []string {
		t.Helper()
		live, err := s.LiveSessions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range live {
			out = append(out, l.PID+"="+l.Code)
		}
		slices.Sort(out)
		return out
	}
	want := []string{"p1=alice", "p2=bob"}
	if got := codes(s); !slices.Equal(got, want) {
		t.Errorf("LiveSessions = %v, want %v", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	defer s.Close()
	if got := codes(s); !slices.Equal(got, want) {
		t.Errorf("after a reopen LiveSessions = %v, want %v", got, want)
	}
}
