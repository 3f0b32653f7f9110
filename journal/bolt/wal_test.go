package bolt

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/journal"
)

// writeFrames writes one frame per payload of generation gen to a new log
// in dir and returns the file and where each frame ends.
func writeFrames(t *testing.T, gen uint64, payloads ...string) (*os.File, []int64) {
	t.Helper()
	f, err := openWAL(filepath.Join(t.TempDir(), WALFileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	w := &wal{f: f, seed: testSeed, gen: gen}
	var ends []int64
	for _, p := range payloads {
		if err := w.commit([]byte(p)); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, w.end)
	}
	return f, ends
}

var testSeed = walSeed("btest")

func replayAll(t *testing.T, f *os.File, seed uint32, gen uint64, limit int64) ([]string, int64) {
	t.Helper()
	var got []string
	end, err := replayWAL(f, seed, gen, limit, func(p []byte) error {
		got = append(got, string(p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, end
}

// TestReplayStopsAtTheEndOfItsGeneration: replay returns the frames a
// crash left whole, in order, and stops quietly where a write was torn, a
// byte was damaged, or an older generation's frames begin.
func TestReplayStopsAtTheEndOfItsGeneration(t *testing.T) {
	payloads := []string{"one", "two", "three", "four"}
	for _, c := range []struct {
		name   string
		damage func(t *testing.T, f *os.File, ends []int64)
		seed   uint32 // of the history replaying; testSeed when 0
		want   int    // frames replayed
	}{
		{name: "another history's log", damage: func(*testing.T, *os.File, []int64) {}, seed: walSeed("bother"), want: 0},
		{name: "whole", damage: func(*testing.T, *os.File, []int64) {}, want: 4},
		{name: "last frame torn", damage: func(t *testing.T, f *os.File, ends []int64) {
			if err := f.Truncate(ends[3] - 2); err != nil {
				t.Fatal(err)
			}
		}, want: 3},
		{name: "torn inside the head", damage: func(t *testing.T, f *os.File, ends []int64) {
			if err := f.Truncate(ends[2] + 5); err != nil {
				t.Fatal(err)
			}
		}, want: 3},
		{name: "a payload byte damaged", damage: func(t *testing.T, f *os.File, ends []int64) {
			if _, err := f.WriteAt([]byte{'X'}, ends[1]+frameHead); err != nil {
				t.Fatal(err)
			}
		}, want: 2},
		{name: "a length damaged past the end", damage: func(t *testing.T, f *os.File, ends []int64) {
			if _, err := f.WriteAt([]byte{0x7f}, ends[0]+12); err != nil {
				t.Fatal(err)
			}
		}, want: 1},
		{name: "older generation after", damage: func(t *testing.T, f *os.File, ends []int64) {
			// The next generation rewrote the first two frames only.
			w := &wal{f: f, seed: testSeed, gen: 8}
			for _, p := range []string{"five", "six!"} {
				if err := w.commit([]byte(p)); err != nil {
					t.Fatal(err)
				}
			}
		}, want: -2},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, ends := writeFrames(t, 7, payloads...)
			c.damage(t, f, ends)
			gen, want := uint64(7), payloads[:max(c.want, 0)]
			if c.want < 0 {
				gen, want = 8, []string{"five", "six!"}
			}
			seed := c.seed
			if seed == 0 {
				seed = testSeed
			}
			got, end := replayAll(t, f, seed, gen, -1)
			if !slices.Equal(got, want) {
				t.Errorf("replayed %q, want %q", got, want)
			}
			if c.want > 0 && end != ends[c.want-1] {
				t.Errorf("replay ended at %d, want %d (the end of frame %d)", end, ends[c.want-1], c.want)
			}
		})
	}
}

// TestRedoGoesPastDamage: at open, a frame damaged on disk costs only
// its own group: the frames of the generation after it are redone, and
// the damaged stretch is reported. A torn last frame, or an older
// generation's frames after the last one, are the log's end, not damage.
func TestRedoGoesPastDamage(t *testing.T) {
	payloads := []string{"one", "two", "three", "four"}
	for _, c := range []struct {
		name       string
		damage     func(t *testing.T, f *os.File, ends []int64)
		gen        uint64 // the generation redone; 7 (the frames') when 0
		want       []string
		wantDamage []walDamage // in frames: {at: index of the first frame lost, length: frames lost}
	}{
		{name: "whole", damage: func(*testing.T, *os.File, []int64) {}, want: payloads},
		{name: "last frame torn", damage: func(t *testing.T, f *os.File, ends []int64) {
			if err := f.Truncate(ends[3] - 2); err != nil {
				t.Fatal(err)
			}
		}, want: payloads[:3]},
		{name: "a payload byte damaged", damage: func(t *testing.T, f *os.File, ends []int64) {
			if _, err := f.WriteAt([]byte{'X'}, ends[1]+frameHead); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"one", "two", "four"}, wantDamage: []walDamage{{at: 2, length: 1}}},
		{name: "a length damaged", damage: func(t *testing.T, f *os.File, ends []int64) {
			if _, err := f.WriteAt([]byte{0x7f}, ends[0]+12); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"one", "three", "four"}, wantDamage: []walDamage{{at: 1, length: 1}}},
		{name: "two frames damaged apart", damage: func(t *testing.T, f *os.File, ends []int64) {
			if _, err := f.WriteAt([]byte{'X'}, 5); err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte{'X'}, ends[1]+5); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"two", "four"}, wantDamage: []walDamage{{at: 0, length: 1}, {at: 2, length: 1}}},
		{name: "older generation after", damage: func(t *testing.T, f *os.File, ends []int64) {
			w := &wal{f: f, seed: testSeed, gen: 8}
			if err := w.commit([]byte("five")); err != nil {
				t.Fatal(err)
			}
		}, gen: 8, want: []string{"five"}}, // 7's frames after it are over, not damage
	} {
		t.Run(c.name, func(t *testing.T) {
			f, ends := writeFrames(t, 7, payloads...)
			c.damage(t, f, ends)
			gen := cmp.Or(c.gen, 7)
			var got []string
			damage, err := redoWAL(f, testSeed, gen, func(p []byte) error {
				got = append(got, string(p))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("redone %q, want %q", got, c.want)
			}
			starts := append([]int64{0}, ends...)
			var wantDamage []walDamage
			for _, d := range c.wantDamage {
				wantDamage = append(wantDamage, walDamage{at: starts[d.at], length: starts[d.at+d.length] - starts[d.at]})
			}
			if !slices.Equal(damage, wantDamage) {
				t.Errorf("damage %v, want %v", damage, wantDamage)
			}
		})
	}
}

// TestReplayHonoursItsLimit: rebuilding after a failed group reads only
// up to the last frame synced, whatever lies past it.
func TestReplayHonoursItsLimit(t *testing.T) {
	f, ends := writeFrames(t, 1, "a", "b", "c")
	got, _ := replayAll(t, f, testSeed, 1, ends[1])
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("replayed %q up to %d, want [a b]", got, ends[1])
	}
}

// TestRedoReplaysEveryOperation: a frame of every kind of operation, redone
// on a fresh file, leaves what the committer wrote.
func TestRedoReplaysEveryOperation(t *testing.T) {
	db := tempDB(t)
	var w walOps
	rec := testRecord(t, 3)
	w.record(9, rec)
	w.record(10, rec)
	w.reserve("room", 2048)
	w.session("pid", []byte("sess"))
	w.seen("key", 42)
	w.seen("gone", 43)
	w.forget("gone")
	w.counts(9, 5, 2)
	w.trim(10)
	err := db.Update(func(tx *bbolt.Tx) error { return redo(tx, w.b) })
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *bbolt.Tx) error {
		p, err := peekRecord(tx.Bucket(bucketLog).Get(u64(9)))
		if err != nil || p.offset != 3 || p.reached != 5 || p.acked != 2 {
			return fmt.Errorf("record 9 = %+v, %v; want offset 3, counted 5/2", p, err)
		}
		for _, c := range []struct {
			bucket, key []byte
			want        []byte
		}{
			{bucketLog, u64(10), nil},
			{bucketLast, []byte("room"), u64(2048)},
			{bucketSessions, []byte("pid"), []byte("sess")},
			{bucketSeen, []byte("key"), u64(42)},
			{bucketSeen, []byte("gone"), nil},
		} {
			if got := tx.Bucket(c.bucket).Get(c.key); !slices.Equal(got, c.want) {
				return fmt.Errorf("%s/%q = %x, want %x", c.bucket, c.key, got, c.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// FuzzRedo: a frame whose checksum held but whose payload is not ours
// (a newer herald, a bug) is an error, never a panic.
func FuzzRedo(f *testing.F) {
	var w walOps
	w.record(1, testRecord(f, 1))
	w.reserve("r", 5)
	w.session("p", []byte("v"))
	w.seen("k", 1)
	w.forget("k")
	w.counts(1, 1, 1)
	w.trim(1)
	f.Add(w.b)
	f.Add([]byte{walRecord, 0xff})
	f.Add([]byte{'?'})
	db := tempDB(f)
	errStop := errors.New("roll back")
	f.Fuzz(func(t *testing.T, payload []byte) {
		err := db.Update(func(tx *bbolt.Tx) error {
			if err := redo(tx, payload); err != nil {
				return err
			}
			return errStop
		})
		if err == nil {
			t.Fatal("the update committed")
		}
	})
}

func testRecord(t testing.TB, offset uint64) []byte {
	t.Helper()
	rec, err := encodeRecord(nil, journal.Entry{Offset: offset, At: time.Unix(1_700_000_000, 0),
		Delivery: herald.Delivery{Room: "room", EventID: "ev", Name: "FOLLOW"}})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func tempDB(t testing.TB) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketLog, bucketLast, bucketSessions, bucketSeen} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// FuzzReplayWAL: whatever a damaged log file holds, replay stops or
// reads frames whose checksums hold; it never panics or reads past the
// file.
func FuzzReplayWAL(f *testing.F) {
	f.Add(appendFrame(nil, testSeed, 1, []byte("payload")), uint64(1))
	f.Add(appendFrame(appendFrame(nil, testSeed, 2, []byte("a")), testSeed, 2, nil), uint64(2))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff}, uint64(1))
	path := filepath.Join(f.TempDir(), WALFileName)
	f.Fuzz(func(t *testing.T, data []byte, gen uint64) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		file, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		var read int64
		end, err := replayWAL(file, testSeed, gen, -1, func(p []byte) error {
			read += frameHead + int64(len(p))
			return nil
		})
		if err != nil || end != read || end > int64(len(data)) {
			t.Fatalf("replay ended at %d after %d bytes of frames, err %v (file of %d bytes)", end, read, err, len(data))
		}
		read = 0
		damage, err := redoWAL(file, testSeed, gen, func(p []byte) error {
			read += frameHead + int64(len(p))
			return nil
		})
		for _, d := range damage {
			read += d.length
		}
		if err != nil || read > int64(len(data)) {
			t.Fatalf("redo read %d bytes of frames and damage, err %v (file of %d bytes)", read, err, len(data))
		}
	})
}
