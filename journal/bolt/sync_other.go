//go:build !linux

package bolt

import "os"

// datasync is the platform's full sync where it has no fdatasync (bbolt
// does the same for its own file).
func datasync(f *os.File) error { return f.Sync() }
