package bolt_test

import (
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
