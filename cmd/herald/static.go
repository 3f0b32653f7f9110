package main

import (
	"fmt"
	"io/fs"
	"os"
)

// sourcesFS returns the files /sources/ serves: dir confined with os.Root
// (no escape through .. or symlinks), or the embedded defaults.
func sourcesFS(dir string, embedded fs.FS) (fs.FS, func() error, error) {
	if dir == "" {
		return embedded, func() error { return nil }, nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("--sources: %w", err)
	}
	return root.FS(), root.Close, nil
}

// noDirs hides directories, so http.FileServer never lists one.
type noDirs struct{ fs.FS }

func (n noDirs) Open(name string) (fs.File, error) {
	f, err := n.FS.Open(name)
	if err != nil {
		// os.Root refuses a symlink out of the directory with its own
		// error; to a visitor that is simply not there (404, not 500).
		return nil, fs.ErrNotExist
	}
	if st, err := f.Stat(); err != nil || st.IsDir() {
		f.Close()
		return nil, fs.ErrNotExist
	}
	return f, nil
}
