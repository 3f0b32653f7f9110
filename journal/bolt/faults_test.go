package bolt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/boltfile/bolttest"
	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/bolt"
)

func delivery(room, id string, payload string) herald.Delivery {
	return herald.Delivery{EventID: id, Source: "trigger", Room: room, Name: "FOLLOW",
		Payload: map[string]any{"text": payload}, Time: time.Now()}
}

func TestFirstRunCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "herald-data")
	s := open(t, dir)
	defer s.Close()
	if _, err := s.Append(t.Context(), delivery("r", "e", "x")); err != nil {
		t.Fatal(err)
	}
	if s.Path() != filepath.Join(dir, bolt.FileName) {
		t.Errorf("Path() = %s, want %s", s.Path(), filepath.Join(dir, bolt.FileName))
	}
	if runtime.GOOS == "windows" {
		return // modes are not Unix permissions there
	}
	for _, c := range []struct {
		path string
		want os.FileMode
	}{
		{path: dir, want: 0o700},
		{path: s.Path(), want: 0o600},
		{path: filepath.Join(dir, bolt.WALFileName), want: 0o600},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != c.want {
			t.Errorf("mode of %s = %o, want %o (the journal holds donor names)", c.path, got, c.want)
		}
	}
	if st := s.Stats(); st.Bytes <= 0 {
		t.Errorf("Stats.Bytes = %d, want the file's size", st.Bytes)
	}
}

// TestDataDirOthersMayWriteIsWarned: a data directory made before the
// first run with a mode that lets other users write to it is used as it
// is (its owner chose the mode), with a warning: they could replace the
// journal. A private one is not warned of.
func TestDataDirOthersMayWriteIsWarned(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("modes are not Unix permissions on Windows")
	}
	for _, c := range []struct {
		mode os.FileMode
		warn bool
	}{{0o777, true}, {0o770, true}, {0o755, false}, {0o700, false}} {
		t.Run(fmt.Sprintf("%o", c.mode), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, c.mode); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			s, err := bolt.Open(dir, bolt.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "chmod 700"); got != c.warn {
				t.Errorf("mode %o: warned %v, want %v; log %q", c.mode, got, c.warn, logs.String())
			}
		})
	}
}

func TestCorruptFileIsMovedAside(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(t *testing.T, path string)
	}{
		{name: "garbage", spoil: func(t *testing.T, path string) {
			if err := os.WriteFile(path, bytes.Repeat([]byte("not a database "), 2000), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "zeroed meta pages", spoil: func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(make([]byte, 8192), 0); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "older layout (format 1, before the first release)", spoil: func(t *testing.T, path string) {
			editMeta(t, path, func(meta *bbolt.Bucket) error {
				return meta.Put([]byte("format"), binary.BigEndian.AppendUint64(nil, 1))
			})
		}},
		{name: "scribbled data pages", spoil: func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fi, _ := f.Stat()
			junk := bytes.Repeat([]byte{0xA5}, int(fi.Size())-16384)
			if _, err := f.WriteAt(junk, 16384); err != nil {
				t.Fatal(err)
			}
		}},
		// bbolt panics inside Open on a freelist page of another type; the
		// file stayed open and mapped, and Windows refused to move it.
		{name: "freelist page scribbled over", spoil: func(t *testing.T, path string) { bolttest.SpoilFreelistPages(t, path) }},
		// A file cut short names pages past its end: reading one at open
		// was a memory fault that crashed herald before it listened.
		{name: "cut short after its header pages", spoil: func(t *testing.T, path string) {
			if err := os.Truncate(path, 3*int64(os.Getpagesize())); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "cut short inside its header pages", spoil: func(t *testing.T, path string) {
			if err := os.Truncate(path, 5000); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir)
			old := s.Epoch()
			for i := range 400 { // enough pages that a cut leaves some named past the end
				if _, err := s.Append(t.Context(), delivery("r"+string(rune('a'+i%5)), "e", strings.Repeat("x", 2000))); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			tc.spoil(t, s.Path())

			var logs bytes.Buffer
			s2, err := bolt.Open(dir, bolt.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatalf("Open after corruption = %v, want a new journal (history must never stop alerts)", err)
			}
			defer s2.Close()
			if s2.Epoch() == old {
				t.Errorf("epoch after moving a corrupt file aside = %q, the old one; want a new epoch", old)
			}
			aside, _ := filepath.Glob(filepath.Join(dir, bolt.FileName+".corrupt-*"))
			if len(aside) != 1 {
				t.Fatalf("files moved aside: %v, want one herald.db.corrupt-<time>", aside)
			}
			if held := bolttest.HeldOpen(t, aside[0]); len(held) > 0 {
				t.Errorf("the file moved aside is still open (%v): where files cannot be moved while open (Windows), it would not have been", held)
			}
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), aside[0]) {
				t.Errorf("log = %q, want an ERROR naming %s", logs.String(), aside[0])
			}
			if st := s2.Stats(); !strings.Contains(st.LastError, "corrupt") {
				t.Errorf("Stats.LastError = %q, want the corrupt file reported", st.LastError)
			}
			e, err := s2.Append(t.Context(), delivery("ra", "after", "y"))
			if err != nil || e.Offset != 1 {
				t.Errorf("Append to the new journal = %d, %v; want offset 1 of the new epoch", e.Offset, err)
			}
		})
	}
}

func TestFileInUseIsNotMovedAside(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("flock semantics differ; bbolt locks the file on Windows too, but the test relies on Unix flock")
	}
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	_, err := bolt.Open(dir, bolt.Options{})
	if err == nil || !strings.Contains(err.Error(), "another herald") {
		t.Errorf("second Open of a file in use = %v, want an error that says another herald holds it", err)
	}
	if aside, _ := filepath.Glob(filepath.Join(dir, "*.corrupt-*")); len(aside) != 0 {
		t.Errorf("a file in use was moved aside: %v", aside)
	}
}

// TestFullJournalFailsAppendsNotHerald fills the file to its bound: appends
// fail with an error (never a panic or a hang), the failures are counted
// and reported, reads keep working, and trimming makes room again.
func TestFullJournalFailsAppendsNotHerald(t *testing.T) {
	s, err := bolt.Open(t.TempDir(), bolt.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	big := strings.Repeat("donor message ", 700) // ~10 KB
	var appended int
	var failure error
	for i := range 1000 {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		_, err := s.Append(ctx, delivery("r", "e", big))
		cancel()
		if err != nil {
			failure = err
			break
		}
		appended = i + 1
	}
	if failure == nil {
		t.Fatalf("1000 appends of 10 KB fit in a 1 MiB journal")
	}
	if errors.Is(failure, context.DeadlineExceeded) {
		t.Fatalf("Append on a full journal hung until its deadline: %v", failure)
	}
	st := s.Stats()
	if st.AppendErrors == 0 || st.LastError == "" {
		t.Errorf("Stats after a failed append = %+v, want it counted and reported", st)
	}
	if got, err := s.Last(t.Context(), "r", 5); err != nil || len(got) != 5 {
		t.Errorf("Last on a full journal = %d entries, %v; want 5 (reads keep working)", len(got), err)
	}
	if fi, err := os.Stat(s.Path()); err != nil {
		t.Error(err)
	} else if fi.Size() > 1<<20 {
		t.Errorf("file grew to %d bytes, past its 1 MiB bound", fi.Size())
	}
	// The write-ahead log beside it has a sixteenth of the bound, and may
	// pass it by one append's frame.
	if limit := int64(1<<20 + 1<<16 + 16<<10); st.Bytes > limit {
		t.Errorf("file and write-ahead log hold %d bytes, past %d", st.Bytes, limit)
	}
	t.Logf("%d appends fit; then: %v", appended, failure)
	// Trimming frees pages; appends work again.
	s.SetRetention(journalRetention(5))
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := s.Append(t.Context(), delivery("r", "after", big))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Append still fails after trimming to 5 entries: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNewerLayoutIsRefused: a file written by a newer herald is not ours
// to move aside; Open says what to do and leaves it where it is.
func TestNewerLayoutIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	if _, err := s.Append(t.Context(), delivery("r", "e", "x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	editMeta(t, s.Path(), func(meta *bbolt.Bucket) error {
		return meta.Put([]byte("format"), binary.BigEndian.AppendUint64(nil, 99))
	})
	s2, err := bolt.Open(dir, bolt.Options{})
	if err == nil {
		s2.Close()
		t.Fatal("Open of a format-99 file succeeded; want an error (a newer herald's file)")
	}
	if !strings.Contains(err.Error(), "format 99") || !strings.Contains(err.Error(), "another --data directory") {
		t.Errorf("Open error = %q, want it to name the format and the way out", err)
	}
	if aside, _ := filepath.Glob(filepath.Join(dir, bolt.FileName+".corrupt-*")); len(aside) != 0 {
		t.Errorf("a newer file was moved aside: %v", aside)
	}
}

// TestFormat2IsUpgraded: a file of format 2 (the same buckets, written
// before the write-ahead log) is read as it is and upgraded in place: its
// history, epoch and offsets stay, and new writes go through the log.
func TestFormat2IsUpgraded(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	epoch := s.Epoch()
	for i := range 3 {
		if _, err := s.Append(t.Context(), delivery("r", fmt.Sprint("e", i), "x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// What a format-2 build left: format 2, no log generation, no log.
	editMeta(t, s.Path(), func(meta *bbolt.Bucket) error {
		if err := meta.Delete([]byte("wal")); err != nil {
			return err
		}
		return meta.Put([]byte("format"), binary.BigEndian.AppendUint64(nil, 2))
	})
	if err := os.Remove(filepath.Join(dir, bolt.WALFileName)); err != nil {
		t.Fatal(err)
	}

	s2 := open(t, dir)
	defer s2.Close()
	if s2.Epoch() != epoch {
		t.Errorf("epoch after the upgrade = %q, want %q", s2.Epoch(), epoch)
	}
	e, err := s2.Append(t.Context(), delivery("r", "e3", "x"))
	if err != nil || e.Offset <= 3 {
		t.Fatalf("append after the upgrade = offset %d, %v; want one past the 3 before (or past their reservation)", e.Offset, err)
	}
	got, err := s2.After(t.Context(), "r", 0, 10)
	if err != nil || len(got) != 4 {
		t.Errorf("history after the upgrade = %d entries, %v; want the 3 from before and the new one", len(got), err)
	}
	if aside, _ := filepath.Glob(filepath.Join(dir, "*.corrupt-*")); len(aside) != 0 {
		t.Errorf("a format-2 file was moved aside: %v", aside)
	}
}

// editMeta changes the meta bucket of the closed journal file at path, as
// another build of herald would have left it.
func editMeta(t *testing.T, path string, edit func(meta *bbolt.Bucket) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error { return edit(tx.Bucket([]byte("meta"))) })
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestFullFragmentedJournalTrimsBack: in a file whose free pages are
// many small holes, appends of big alerts pass the free-page check but
// the checkpoint finds no run of pages long enough for them, and the file
// is full. Lowering retention must bring it back: the checkpoint that
// would commit the trims also carries those appends, and bbolt reuses
// freed pages only after a commit, so the trims must commit on their own.
// A restart on the full file must not lose the journal either.
func TestFullFragmentedJournalTrimsBack(t *testing.T) {
	dir := t.TempDir()
	s, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.SetRetention(journal.Retention{MaxEntries: 1000, MaxAge: time.Hour})
	small := strings.Repeat("s", 20<<10)
	for i := range 100 {
		for _, room := range []string{"a", fmt.Sprint("b", i)} {
			if _, err := s.Append(t.Context(), delivery(room, "e", small)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Room a keeps one record: 99 holes of 20 KB between the b rooms'.
	s.SetRetention(journal.Retention{MaxEntries: 1, MaxAge: time.Hour})
	for deadline := time.Now().Add(10 * time.Second); s.Stats().Entries > 101; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("room a not trimmed to one entry: %d entries", s.Stats().Entries)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, bolt.FileName))
	if err != nil {
		t.Fatal(err)
	}
	opts := bolt.Options{MaxBytes: fi.Size()} // no room to grow
	s, err = bolt.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	s.SetRetention(journal.Retention{MaxEntries: 1000, MaxAge: time.Hour})
	big := strings.Repeat("B", 100<<10)
	full := false
	for range 300 {
		_, _ = s.Append(t.Context(), delivery("big", "e", big)) // ErrFull too, while the checkpoint fails
		if full = strings.Contains(s.Stats().LastError, "maximum size"); full {
			break
		}
		time.Sleep(20 * time.Millisecond) // let checkpoints come
	}
	if !full {
		t.Fatalf("300 appends of 100 KB never made a checkpoint fail for the size bound (last error %q): the test no longer fills the file", s.Stats().LastError)
	}
	// A restart now must redo the log, which holds what the failing
	// checkpoints could not place: refused for the bound, the journal
	// would be off at every start.
	if err := s.Close(); err != nil {
		t.Logf("Close of the full journal: %v", err)
	}
	if s, err = bolt.Open(dir, opts); err != nil {
		t.Fatalf("reopen of the full journal: %v", err)
	}
	time.Sleep(5 * time.Millisecond)
	s.SetRetention(journal.Retention{MaxEntries: 1, MaxAge: time.Millisecond}) // everything goes
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := s.Append(t.Context(), delivery("big", "after", big))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Append still fails 20 s after retention let everything go: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = bolt.Open(dir, opts); err != nil {
		t.Fatalf("reopen after the journal filled and trimmed back: %v", err)
	}
	if _, err := s.Append(t.Context(), delivery("big", "reopened", big)); err != nil {
		t.Errorf("Append after reopening: %v", err)
	}
}

// TestOrphanWALIsSetAside: a journal file deleted (or emptied) by hand
// beside its write-ahead log starts a new history, and says so: the log
// is of the history that is gone, and is kept aside, not silently ignored.
func TestOrphanWALIsSetAside(t *testing.T) {
	for _, spoil := range []string{"deleted", "emptied"} {
		t.Run(spoil, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir)
			old := s.Epoch()
			if _, err := s.Append(t.Context(), delivery("r", "e", "x")); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if spoil == "deleted" {
				err := os.Remove(s.Path())
				if err != nil {
					t.Fatal(err)
				}
			} else if err := os.Truncate(s.Path(), 0); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			s2, err := bolt.Open(dir, bolt.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			if s2.Epoch() == old {
				t.Errorf("epoch = %q, the old one; want a new history", old)
			}
			aside, _ := filepath.Glob(filepath.Join(dir, bolt.WALFileName+".orphan-*"))
			if len(aside) != 1 || !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), aside[0]) {
				t.Errorf("logs %q, logs moved aside %v: want a warning naming the one moved aside", logs.String(), aside)
			}
			if le := s2.Stats().LastError; !strings.Contains(le, "missing or empty") {
				t.Errorf("Stats.LastError = %q, want it reported", le)
			}
		})
	}
}
