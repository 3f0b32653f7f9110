package bolt_test

import (
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
