package main

import (
	"errors"
	"io/fs"
)

// overlayFS serves the user's --sources folder over the embedded files:
// a name the folder has comes from the folder, any other from the
// embedded sources. A custom page therefore keeps
// /sources/notificationservice.js and the example page without copying
// them, and a file of the same name replaces the embedded one.
type overlayFS struct {
	user, embedded fs.FS
}

func (o overlayFS) Open(name string) (fs.File, error) {
	f, err := o.user.Open(name)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return f, err // found, or refused (a symlink out of the folder): no fallback
	}
	return o.embedded.Open(name)
}
