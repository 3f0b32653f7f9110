package spool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/boltfile/bolttest"
)

func delivery(room, id string) herald.Delivery {
	return herald.Delivery{EventID: id, Source: "trigger", Room: room, Name: "DONATION",
		Payload: map[string]any{"n": id}, Time: time.Unix(1700000000, 0).UTC(), LiveTo: []string{"pid-" + id}}
}

func mustOpen(t testing.TB, path string) *Spool {
	t.Helper()
	s, aside, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if aside != "" {
		t.Fatalf("a sound file was moved aside to %s", aside)
	}
	return s
}

func load(t *testing.T, s *Spool) []Entry {
	t.Helper()
	var es []Entry
	bad, err := s.Load(func(e Entry) { es = append(es, e) })
	if err != nil || bad != 0 {
		t.Fatalf("Load: %d unreadable, %v", bad, err)
	}
	return es
}

func ids(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Delivery.EventID)
	}
	return out
}

// TestKeepOutlivesTheProcessAndForgetEmptiesIt: what Keep stored is there,
// whole and in order, after the file is closed and opened again; what was
// forgotten is not.
func TestKeepOutlivesTheProcessAndForgetEmptiesIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "outbox-8080.db")
	s := mustOpen(t, path)
	at := time.Unix(1700000001, 0).UTC()
	var kept []uint64
	for _, id := range []string{"a", "b", "c"} {
		n, err := s.Keep(delivery("room", id), at, 2)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, n)
	}
	if !slices.IsSorted(kept) || kept[0] == 0 {
		t.Fatalf("ids %v: want increasing, never 0", kept)
	}
	s.Forget(kept[1])
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("file mode %v (%v), want 0600: it holds donors' names", fi.Mode().Perm(), err)
		}
		if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("directory mode %v (%v), want 0700", fi.Mode().Perm(), err)
		}
	}

	s = mustOpen(t, path)
	defer s.Close()
	es := load(t, s)
	if got := ids(es); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("after a restart the file holds %v, want a and c", got)
	}
	want := delivery("room", "c")
	if e := es[1]; e.ID != kept[2] || !e.At.Equal(at) || e.Reached != 2 || e.Delivery.Room != want.Room ||
		e.Delivery.Name != want.Name || !slices.Equal(e.Delivery.LiveTo, want.LiveTo) ||
		!e.Delivery.Time.Equal(want.Time) || e.Delivery.Payload["n"] != "c" {
		t.Errorf("read back %+v, want %+v kept at %v reaching 2", e, want, at)
	}
}

// TestOpenInUse: a second node on the same file is told at once, not after
// bbolt's usual wait, and the first keeps its file.
func TestOpenInUse(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the lock is per process on Windows")
	}
	path := filepath.Join(t.TempDir(), "outbox.db")
	s := mustOpen(t, path)
	defer s.Close()
	start := time.Now()
	_, _, err := Open(path)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second Open = %v, want ErrInUse", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("second Open waited %v", waited)
	}
	if _, err := s.Keep(delivery("r", "x"), time.Now(), 1); err != nil {
		t.Errorf("the first holder cannot keep: %v", err)
	}
}

// TestOpenMovesADamagedFileAside: a damaged file is moved aside, whole
// and no longer held open, and a new one started; alerts must not stop for
// it. bbolt panics while it opens some damage and faults on a file cut
// short.
func TestOpenMovesADamagedFileAside(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(t *testing.T, path string)
	}{
		{name: "not a bbolt file", spoil: func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("not a bbolt file at all, but long enough to be read as one......"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "freelist page scribbled over", spoil: func(t *testing.T, path string) { bolttest.SpoilFreelistPages(t, path) }},
		{name: "cut short after its header pages", spoil: func(t *testing.T, path string) {
			if err := os.Truncate(path, 3*int64(os.Getpagesize())); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "outbox.db")
			s := mustOpen(t, path)
			for i := range 300 { // pages enough that a cut leaves some named past the end
				if _, err := s.Keep(delivery("r", fmt.Sprint(i)), time.Now(), 1); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			tc.spoil(t, path)
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, aside, err := Open(path)
			if err != nil {
				t.Fatalf("Open of a damaged file: %v", err)
			}
			defer s.Close()
			if aside == "" {
				t.Fatal("the damaged file was not moved aside")
			}
			if b, err := os.ReadFile(aside); err != nil || !bytes.Equal(b, want) {
				t.Errorf("aside %s: %d bytes, %v: want the damaged file's %d bytes", aside, len(b), err, len(want))
			}
			if held := bolttest.HeldOpen(t, aside); len(held) > 0 {
				t.Errorf("the file moved aside is still open (%v): where files cannot be moved while open (Windows), it would not have been", held)
			}
			if _, err := s.Keep(delivery("r", "x"), time.Now(), 1); err != nil {
				t.Errorf("the new file cannot keep: %v", err)
			}
		})
	}
}

// TestLoadRemovesUnreadableRecords: a record that does not decode cannot be
// journaled; it is counted and removed, and the others load.
func TestLoadRemovesUnreadableRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	s := mustOpen(t, path)
	if _, err := s.Keep(delivery("r", "good"), time.Now(), 1); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucket).Put(key(99), []byte(`{"delivery":`))
	}); err != nil {
		t.Fatal(err)
	}
	var es []Entry
	bad, err := s.Load(func(e Entry) { es = append(es, e) })
	if err != nil || bad != 1 || !slices.Equal(ids(es), []string{"good"}) {
		t.Fatalf("Load = %v, %d unreadable, %v; want good, 1 unreadable", ids(es), bad, err)
	}
	if got := ids(load(t, s)); !slices.Equal(got, []string{"good"}) {
		t.Errorf("the unreadable record is still there: %v", got)
	}
	s.Close()
}

// FuzzDecode: the spool's own records read back, whatever the bytes: no
// panic, and a record that decodes has what journaling it needs and
// encodes back to one that decodes the same.
func FuzzDecode(f *testing.F) {
	good, _ := json.Marshal(Entry{Delivery: delivery("r", "a"), At: time.Unix(1700000001, 0).UTC(), Reached: 1})
	f.Add(key(1), good)
	f.Add(key(2), []byte(`{"delivery":{"room":"r","name":"X"},"at":"2026-11-29T10:00:00Z"}`))
	f.Add([]byte{1}, good)
	f.Add(key(3), []byte(`{"delivery":{"room":"","name":"X"},"at":"x"}`))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		e, err := decode(k, v)
		if err != nil {
			return
		}
		if e.Delivery.Room == "" || e.Delivery.Name == "" || e.At.IsZero() || len(k) != 8 {
			t.Fatalf("decode(%q) = %+v: accepted without room, name, time or key", v, e)
		}
		again, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", e, err)
		}
		e2, err := decode(k, again)
		if err != nil || e2.Delivery.Room != e.Delivery.Room || e2.Delivery.Name != e.Delivery.Name || !e2.At.Equal(e.At) || e2.ID != e.ID {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", v, e2, err, e)
		}
	})
}

// BenchmarkKeep is what an alert costs while Redis is away: its room waits
// for the commit (serial), and concurrent alerts share commits.
func BenchmarkKeep(b *testing.B) {
	for _, par := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines-%d", par*runtime.GOMAXPROCS(0)), func(b *testing.B) {
			s := mustOpen(b, filepath.Join(b.TempDir(), "outbox.db"))
			defer s.Close()
			d := delivery("room", "x")
			b.SetParallelism(par)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Keep(d, time.Now(), 1); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// TestForgetABurst: the catch-up after a long outage forgets thousands of
// deliveries at once; every one is gone once Close returns.
func TestForgetABurst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	s := mustOpen(t, path)
	var kept []uint64
	for i := range 50 {
		var wg sync.WaitGroup
		ids := make([]uint64, 40)
		for j := range ids {
			wg.Go(func() {
				id, err := s.Keep(delivery("room", fmt.Sprint(i, "-", j)), time.Now(), 1)
				if err != nil {
					t.Error(err)
				}
				ids[j] = id
			})
		}
		wg.Wait()
		kept = append(kept, ids...)
	}
	for _, id := range kept[:len(kept)-1] {
		s.Forget(id)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, path)
	defer s.Close()
	if es := load(t, s); len(es) != 1 || es[0].ID != kept[len(kept)-1] {
		t.Fatalf("after forgetting all but the last of %d, the file holds %d", len(kept), len(es))
	}
}
