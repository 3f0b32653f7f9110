//go:build !linux

package bolt

import "os"

// datasync is the platform's full sync where it has no fdatasync (bbolt
// does the same for its own file).
func datasync(f *os.File) error { return f.Sync() }

// syncDir is best effort where directories cannot be synced (Windows
// refuses to open one for writing; NTFS journals the entry itself).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close()
	_ = d.Sync()
	return nil
}
