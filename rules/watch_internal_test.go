package rules

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fsnotify/fsnotify"
)

// fakeFile is the watched file as the loop reads it, and what it reloaded.
type fakeFile struct {
	mu       sync.Mutex
	content  string // "" means missing
	reloaded []string
}

func (f *fakeFile) read() ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.content == "" {
		return nil, fs.ErrNotExist
	}
	return []byte(f.content), nil
}

func (f *fakeFile) set(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.content = s
}

func (f *fakeFile) reloads() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reloaded)
}

// countHandler counts log records at Warn and above.
type countHandler struct {
	mu    sync.Mutex
	warns int
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Level >= slog.LevelWarn {
		h.warns++
	}
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }

func (h *countHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.warns
}

// TestWatchLoopDebounce drives the loop with fake events on synctest's
// fake clock: time.Sleep below moves that clock, it does not wait.
func TestWatchLoopDebounce(t *testing.T) {
	const name = "/etc/herald/rules.yaml"
	synctest.Test(t, func(t *testing.T) {
		events := make(chan fsnotify.Event)
		file := &fakeFile{content: "v1"}
		logs := &countHandler{}
		l := watchLoop{
			name: name, events: events, errors: make(chan error), debounce: 100 * time.Millisecond,
			read: file.read, log: slog.New(logs),
			reload: func(b []byte) {
				file.mu.Lock()
				defer file.mu.Unlock()
				file.reloaded = append(file.reloaded, string(b))
			},
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- l.run(ctx) }()

		// A burst of writes 30 ms apart is one reload, of the last content.
		for i, op := range []fsnotify.Op{fsnotify.Create, fsnotify.Write, fsnotify.Write, fsnotify.Rename} {
			file.set("v" + string(rune('1'+i)))
			events <- fsnotify.Event{Name: name, Op: op}
			time.Sleep(30 * time.Millisecond)
		}
		synctest.Wait()
		if got := file.reloads(); len(got) != 0 {
			t.Fatalf("reloaded %q before the burst settled", got)
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if got, want := file.reloads(), []string{"v4"}; !slices.Equal(got, want) {
			t.Fatalf("after one burst reloaded %q, want %q", got, want)
		}

		// Other files in the directory and chmod alone are ignored.
		events <- fsnotify.Event{Name: "/etc/herald/other.yaml", Op: fsnotify.Write}
		events <- fsnotify.Event{Name: name, Op: fsnotify.Chmod}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := file.reloads(); len(got) != 1 {
			t.Fatalf("other events caused reloads: %q", got)
		}

		// A missing file keeps the rules (no reload) and warns once.
		file.set("")
		for range 3 {
			events <- fsnotify.Event{Name: name, Op: fsnotify.Remove}
			time.Sleep(time.Second)
		}
		synctest.Wait()
		if got := file.reloads(); len(got) != 1 {
			t.Fatalf("a missing file caused reloads: %q", got)
		}
		if n := logs.count(); n != 1 {
			t.Fatalf("missing file logged %d warnings, want 1", n)
		}

		// The file coming back (a path written relative to it still
		// matches) reloads again.
		file.set("v5")
		events <- fsnotify.Event{Name: "/etc/herald/./rules.yaml", Op: fsnotify.Create}
		time.Sleep(time.Second)
		synctest.Wait()
		if got, want := file.reloads(), []string{"v4", "v5"}; !slices.Equal(got, want) {
			t.Fatalf("reloaded %q, want %q", got, want)
		}

		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run after cancel = %v, want nil", err)
		}
	})
}

// TestWatchRealRename saves the way editors do, writing a temporary file
// and renaming it over the watched one, through real fsnotify.
func TestWatchRealRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, []byte("version: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, name, err := watchDir(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	got := make(chan string, 10)
	l := watchLoop{name: name, events: w.Events, errors: w.Errors, debounce: 20 * time.Millisecond,
		read: func() ([]byte, error) { return os.ReadFile(name) }, log: slog.New(slog.DiscardHandler),
		reload: func(b []byte) { got <- string(b) }}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- l.run(ctx) }()

	const next = "version: 1\nrules: []\n"
	tmp := filepath.Join(dir, ".rules.yaml.tmp")
	if err := os.WriteFile(tmp, []byte(next), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != next {
		t.Fatalf("reloaded %q, want %q", s, next)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v", err)
	}
}

// TestWatchSeesWhatTheDirectoryWatchCannot: saves the directory watch
// misses are still loaded, by the loop's own look at the file: into a
// directory that replaced the watched one, and to the target of a
// symlinked rules file (a Kubernetes ConfigMap, a dotfiles repository).
func TestWatchSeesWhatTheDirectoryWatchCannot(t *testing.T) {
	root := t.TempDir()
	conf := filepath.Join(root, "conf")
	elsewhere := filepath.Join(root, "elsewhere")
	for _, d := range []string{conf, elsewhere} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(elsewhere, "real.yaml")
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(target, "version: 1\n")
	path := filepath.Join(conf, "rules.yaml")
	if err := os.Symlink(target, path); err != nil {
		t.Skipf("no symlinks here: %v", err)
	}
	w, name, err := watchDir(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	got := make(chan string, 10)
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	l := watchLoop{name: name, events: w.Events, errors: w.Errors, debounce: 20 * time.Millisecond,
		read: func() ([]byte, error) { return os.ReadFile(name) }, log: slog.New(slog.DiscardHandler),
		reload: func(b []byte) { got <- string(b) },
		poll:   poll.C, stat: func() (fs.FileInfo, error) { return os.Stat(name) }}
	l.loaded, _ = l.stat()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- l.run(ctx) }()
	expect := func(want, what string) {
		t.Helper()
		select {
		case s := <-got:
			if s != want {
				t.Fatalf("%s: reloaded %q, want %q", what, s, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: never reloaded", what)
		}
	}

	write(target, "version: 1\nrules: []\n")
	expect("version: 1\nrules: []\n", "the symlink's target edited")

	if err := os.Rename(conf, conf+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	write(path, "version: 1\n# new directory\n")
	expect("version: 1\n# new directory\n", "a save into a directory that replaced the watched one")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v", err)
	}
}

// TestWatchSeesASaveBeforeItStarted: a save between the caller's read of
// the file and the start of the watch (a save right as herald starts) is
// loaded, not taken for the file the caller read.
func TestWatchSeesASaveBeforeItStarted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	save := func(content string) {
		if err := os.WriteFile(path+".tmp", []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	save("version: 1\n")
	read, err := os.Stat(path) // as the caller read it
	if err != nil {
		t.Fatal(err)
	}
	save("version: 1\n# saved as herald started\n")
	got := make(chan string, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = Watch(ctx, path, read, 0, nil, func(b []byte) { got <- string(b) }) }()
	select {
	case b := <-got:
		if b != "version: 1\n# saved as herald started\n" {
			t.Errorf("reloaded %q, want the later save", b)
		}
	case <-time.After(4 * pollEvery):
		t.Fatal("a save made before the watch started was never loaded")
	}
}

func TestWatchMissingDirectory(t *testing.T) {
	err := Watch(t.Context(), filepath.Join(t.TempDir(), "nope", "rules.yaml"), nil, 0, nil, func([]byte) {})
	if err == nil {
		t.Fatal("Watch on a missing directory succeeded")
	}
}

// TestWatchLoopDefaultQuiet checks the default debounce: a save written
// in two parts 200 ms apart is loaded once, whole, 250 ms after the last.
func TestWatchLoopDefaultQuiet(t *testing.T) {
	const name = "/etc/herald/rules.yaml"
	synctest.Test(t, func(t *testing.T) {
		events := make(chan fsnotify.Event)
		file := &fakeFile{content: "half"}
		l := watchLoop{name: name, events: events, errors: make(chan error), read: file.read,
			log: slog.New(slog.DiscardHandler), reload: func(b []byte) {
				file.mu.Lock()
				defer file.mu.Unlock()
				file.reloaded = append(file.reloaded, string(b))
			}}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go l.run(ctx)
		events <- fsnotify.Event{Name: name, Op: fsnotify.Write}
		time.Sleep(200 * time.Millisecond)
		file.set("whole")
		events <- fsnotify.Event{Name: name, Op: fsnotify.Write}
		time.Sleep(249 * time.Millisecond)
		synctest.Wait()
		if got := file.reloads(); len(got) != 0 {
			t.Fatalf("reloaded %q before 250 ms of quiet", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got, want := file.reloads(), []string{"whole"}; !slices.Equal(got, want) {
			t.Fatalf("reloaded %q, want %q", got, want)
		}
	})
}
