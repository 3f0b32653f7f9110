package bolt_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/bolt"
)

// childEnv makes the test binary, re-executed by TestKill9LosesNothing, an
// appender instead of a test run.
const childEnv = "HERALD_JOURNAL_KILL_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(appendUntilKilled(dir))
	}
	os.Exit(m.Run())
}

// appendUntilKilled stages appends from several goroutines (so commits
// are shared) and prints "staged room offset" as soon as an entry has its
// offset (a page may see it from then on) and "room offset" once it is
// durable (what a trigger answered 200 would have been told). Every tenth
// round a worker also saves a session and a de-duplication key and prints
// "session pid" and "seen key" once they are durable.
func appendUntilKilled(dir string) int {
	s, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s.SetRetention(journalRetention(1 << 30)) // keep all: the parent checks every offset
	var mu sync.Mutex
	fmt.Printf("epoch %s\n", s.Epoch())
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Printf(format, args...) // unbuffered: a line out means it happened
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				room := fmt.Sprintf("room-%d", (w+i)%4)
				e, durable, err := s.Stage(context.Background(), delivery(room, fmt.Sprintf("w%d-%d", w, i), strings.Repeat("x", 200)))
				if err == nil {
					say("staged %s %d\n", room, e.Offset)
					err = durable(context.Background())
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				say("%s %d\n", room, e.Offset)
				if i%10 != 0 {
					continue
				}
				pid, key := fmt.Sprintf("pid-%d-%d", w, i), fmt.Sprintf("key-%d-%d", w, i)
				err = s.SaveSession(context.Background(), journal.Session{PID: pid, Code: room, Expires: time.Now().Add(time.Hour)})
				if err == nil {
					say("session %s\n", pid)
					_, err = s.Seen(context.Background(), key, time.Hour)
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				say("seen %s\n", key)
			}
		})
	}
	wg.Wait()
	return 0
}

// TestKill9LosesNothing kills an appending process with SIGKILL in the
// middle of its group commits, then reopens the file: every offset the
// process was told was durable is there with its entry, and so is every
// session and de-duplication key; the epoch is the same, and new offsets
// are larger than any handed out before, durable or only staged (a page
// may have seen those live). The kill comes well within the first
// checkpoint, so what the reopen finds comes from the write-ahead log.
//
// The last round also damages a byte in the middle of the log before the
// reopen, as a failing disk would: the group written there is lost, and
// only it: the groups after it are redone, the damage is logged as an
// ERROR and reported by the store, and a copy of the log is kept.
func TestKill9LosesNothing(t *testing.T) {
	for round := range 4 {
		damaged := round == 3
		name := fmt.Sprint("round ", round)
		if damaged {
			name = "a byte of the log damaged"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+dir)
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(out)
			var epoch string
			told := map[string][]uint64{}
			staged := map[string]uint64{}
			var sessions, keys []string
			n, killAt := 0, 300+round%3*400
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) == 3 && f[0] == "staged" {
					off, err := strconv.ParseUint(f[2], 10, 64)
					if err != nil {
						t.Fatal(err)
					}
					staged[f[1]] = max(staged[f[1]], off)
					continue
				}
				if len(f) == 2 && f[0] == "session" {
					sessions = append(sessions, f[1])
					continue
				}
				if len(f) == 2 && f[0] == "seen" {
					keys = append(keys, f[1])
					continue
				}
				if len(f) != 2 {
					t.Fatalf("child said %q", sc.Text())
				}
				if f[0] == "epoch" {
					epoch = f[1]
					continue
				}
				off, err := strconv.ParseUint(f[1], 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				told[f[0]] = append(told[f[0]], off)
				if n++; n == killAt {
					if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
						t.Fatal(err)
					}
				}
			}
			if err := cmd.Wait(); err == nil {
				t.Fatalf("child exited cleanly; it should have been killed")
			}
			if n < killAt {
				t.Fatalf("child printed %d offsets before it died, want ≥ %d", n, killAt)
			}

			if damaged {
				spoilByte(t, filepath.Join(dir, bolt.WALFileName))
			}
			var logged strings.Builder
			s, err := bolt.Open(dir, bolt.Options{Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &logged}, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if !strings.Contains(logged.String(), "redid the write-ahead log") {
				t.Errorf("the reopen found nothing to redo in the write-ahead log; the test no longer tests it. Log:\n%s", logged.String())
			}
			s.SetRetention(journalRetention(1 << 30)) // as the child: nothing may be trimmed while we look
			if s.Epoch() != epoch {
				t.Errorf("epoch after kill -9 = %q, want %q (the history survived)", s.Epoch(), epoch)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			total, missing := 0, 0
			lost := func(format string, args ...any) {
				missing++
				if !damaged {
					t.Errorf(format, args...)
				}
			}
			for room, offs := range told {
				es, err := s.After(ctx, room, 0, 1_000_000)
				if err != nil {
					t.Fatal(err)
				}
				have := map[uint64]bool{}
				var top uint64
				for _, e := range es {
					have[e.Offset] = true
					top = max(top, e.Offset)
				}
				for _, off := range offs {
					if !have[off] {
						lost("%s: offset %d was returned by Append before the kill and is gone", room, off)
					}
				}
				total += len(offs)
				e, err := s.Append(ctx, delivery(room, "after", "y"))
				if err != nil {
					t.Fatal(err)
				}
				if seen := max(top, slicesMax(offs), staged[room]); e.Offset <= seen {
					t.Errorf("%s: first offset after the kill = %d, want > %d (staged up to %d)", room, e.Offset, seen, staged[room])
				}
			}
			for _, pid := range sessions {
				if _, ok, err := s.Session(ctx, pid); err != nil || !ok {
					lost("session %s was saved before the kill and is gone (%v)", pid, err)
				}
			}
			for _, key := range keys {
				if dup, err := s.Seen(ctx, key, time.Hour); err != nil || !dup {
					lost("de-duplication key %s was recorded before the kill and is forgotten (%v)", key, err)
				}
			}
			if len(sessions) == 0 || len(keys) == 0 {
				t.Errorf("the child saved %d sessions and %d keys before the kill; want some", len(sessions), len(keys))
			}
			if damaged {
				checkDamageReported(t, dir, s, logged.String(), missing)
			}
			commits, ops := s.BatchStats()
			t.Logf("killed after %d acknowledged appends (%d printed); %d writes missing; reopened store: %d commits / %d ops", killAt, total, missing, commits, ops)
		})
	}
}

// spoilByte flips a byte in the middle of the file at path.
func spoilByte(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{^b[0]}, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
}

// checkDamageReported: a reopen that found its log damaged lost the one
// group written there (a few appends, sessions or keys), said so at
// ERROR, reports it, and kept a copy of the log.
func checkDamageReported(t *testing.T, dir string, s *bolt.Store, logged string, missing int) {
	t.Helper()
	if missing < 1 || missing > 16 {
		t.Errorf("%d acknowledged writes lost to one damaged byte, want those of one group (1 to 16): the groups after the damage must be redone", missing)
	}
	if !strings.Contains(logged, "level=ERROR") || !strings.Contains(logged, "write-ahead log damaged") {
		t.Errorf("log after a damaged log = %q, want an ERROR saying so", logged)
	}
	if le := s.Stats().LastError; !strings.Contains(le, "damaged") {
		t.Errorf("Stats.LastError = %q, want the damage reported", le)
	}
	if copies, _ := filepath.Glob(filepath.Join(dir, bolt.WALFileName+".damaged-*")); len(copies) != 1 {
		t.Errorf("copies of the damaged log: %v, want one", copies)
	}
}

// syncWriter serialises a logger's writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func slicesMax(v []uint64) uint64 {
	var m uint64
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
