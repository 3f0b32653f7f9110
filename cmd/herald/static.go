package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// sourcesFS returns the files /sources/ serves: dir confined with os.Root
// (no escape through .. or symlinks) over the embedded defaults, or the
// embedded defaults alone.
func sourcesFS(dir string, embedded fs.FS) (fs.FS, func() error, error) {
	if dir == "" {
		return embedded, func() error { return nil }, nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("--sources: %w", err)
	}
	return overlayFS{user: root.FS(), embedded: embedded}, root.Close, nil
}

// noDirs serves files only: a directory is served as its index.html (by
// http.FileServer) when it has one and is otherwise not there, so nothing
// is ever listed; and any path element starting with "." (.env, .git/) is
// not there either, so a --sources directory that is also a working copy
// does not publish its secrets.
type noDirs struct{ fs.FS }

func (n noDirs) Open(name string) (fs.File, error) {
	if name != "." && slices.ContainsFunc(strings.Split(name, "/"), func(e string) bool { return strings.HasPrefix(e, ".") }) {
		return nil, fs.ErrNotExist
	}
	f, err := n.FS.Open(name)
	if err != nil {
		// os.Root refuses a symlink out of the directory with its own
		// error; to a visitor that is simply not there (404, not 500).
		return nil, fs.ErrNotExist
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fs.ErrNotExist
	}
	if st.IsDir() {
		if idx, err := fs.Stat(n.FS, path.Join(name, "index.html")); err != nil || idx.IsDir() {
			f.Close()
			return nil, fs.ErrNotExist
		}
	}
	return f, nil
}

// staticFile serves fixed bytes under name, with its type from the
// extension (mime, via ServeContent) and conditional-request support.
func staticFile(name string, content []byte) http.Handler {
	started := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		http.ServeContent(w, r, name, started, bytes.NewReader(content))
	})
}
