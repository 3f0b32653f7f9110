package rules

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// pollEvery is how often Watch also looks at the file itself. fsnotify
// watches the directory's inode, so it misses a save into a directory that
// replaced the watched one (mv conf conf.old; mkdir conf), a Kubernetes
// ConfigMap's symlink swap, and an edit of the target of a symlinked
// rules file. A stat every few seconds catches those, a little later.
const pollEvery = 2 * time.Second

// DefaultDebounce is how long the file must stay quiet before Watch reads
// it: editors write a file in several steps (truncate, write, rename,
// chmod), and a save written in two parts must never be loaded half-way.
const DefaultDebounce = 250 * time.Millisecond

// Watch calls reload with the content of the file at path each time it
// changes, once per burst of changes (debounce; <= 0 means
// DefaultDebounce). It watches the file's directory, not the file, so
// that an editor saving by writing a temporary file and renaming it over
// the old one is seen, and looks at the file itself every pollEvery for
// what the directory watch cannot see. It does not load the file at
// start: the caller has done that.
//
// A file that is missing when the timer fires (deleted, or caught between
// the two steps of a rename) is not an empty rule set: reload is not
// called, so the running rules stay, and a warning is logged once until
// the file is back. reload runs on Watch's goroutine and should not block
// for long; errors it meets are its own to log.
//
// loaded is the file as the caller read it (os.Stat before the read), so
// a save between the caller's read and the start of the watch is not
// missed; nil means unknown, and the first look reloads.
//
// Watch returns nil when ctx ends, or an error if the directory cannot be
// watched.
func Watch(ctx context.Context, path string, loaded fs.FileInfo, debounce time.Duration, log *slog.Logger, reload func(data []byte)) error {
	w, name, err := watchDir(path)
	if err != nil {
		return err
	}
	defer w.Close()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	poll := time.NewTicker(pollEvery)
	defer poll.Stop()
	l := watchLoop{
		name: name, events: w.Events, errors: w.Errors, debounce: debounce,
		read: func() ([]byte, error) { return os.ReadFile(name) },
		log:  log.With("file", name), reload: reload,
		poll: poll.C, stat: func() (fs.FileInfo, error) { return os.Stat(name) },
	}
	l.loaded = loaded
	return l.run(ctx)
}

// watchDir starts an fsnotify watch on the directory of path; events are
// queued from the moment it returns.
func watchDir(path string) (*fsnotify.Watcher, string, error) {
	name := filepath.Clean(path)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, "", fmt.Errorf("watch %s: %w", name, err)
	}
	if err := w.Add(filepath.Dir(name)); err != nil {
		w.Close()
		return nil, "", fmt.Errorf("watch %s: %w", name, err)
	}
	return w, name, nil
}

// watchLoop is Watch without fsnotify, so tests can feed it events.
type watchLoop struct {
	name     string // cleaned path of the file
	events   <-chan fsnotify.Event
	errors   <-chan error
	debounce time.Duration
	read     func() ([]byte, error)
	log      *slog.Logger
	reload   func([]byte)
	// poll ticks when the file is due a look of its own (pollEvery), by
	// stat, which follows symlinks; nil turns that off.
	poll <-chan time.Time
	stat func() (fs.FileInfo, error)
	// loaded is the file as the caller loaded it, before the watch began
	// (nil: unknown, so the first poll reloads).
	loaded fs.FileInfo
}

// changed reports whether the file now (b) is not the one last read (a).
func changed(a, b fs.FileInfo) bool {
	return a == nil || !os.SameFile(a, b) || !a.ModTime().Equal(b.ModTime()) || a.Size() != b.Size()
}

func (l watchLoop) run(ctx context.Context) error {
	if l.debounce <= 0 {
		l.debounce = DefaultDebounce
	}
	timer := time.NewTimer(l.debounce)
	timer.Stop()
	defer timer.Stop()
	missing := false
	last := l.loaded
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-l.events:
			if !ok {
				return errors.New("rules watcher closed")
			}
			if filepath.Clean(ev.Name) == l.name && ev.Op != fsnotify.Chmod {
				timer.Reset(l.debounce) // Go 1.23 timers: no stale tick after Reset
			}
		case err, ok := <-l.errors:
			if !ok {
				return errors.New("rules watcher closed")
			}
			l.log.Warn("rules watcher error", "err", err)
		case <-l.poll:
			if info, err := l.stat(); err == nil && changed(last, info) {
				last = info // the next poll waits for another change
				timer.Reset(l.debounce)
			}
		case <-timer.C:
			if l.stat != nil {
				last, _ = l.stat() // before the read: a change after it is seen next time
			}
			data, err := l.read()
			switch {
			case errors.Is(err, fs.ErrNotExist):
				if !missing {
					l.log.Warn("rules file missing; keeping the running rules")
				}
				missing = true
			case err != nil:
				l.log.Warn("rules file unreadable; keeping the running rules", "err", err)
			default:
				missing = false
				l.reload(data)
			}
		}
	}
}
