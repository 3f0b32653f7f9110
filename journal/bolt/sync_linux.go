package bolt

import (
	"os"
	"syscall"
)

// datasync flushes f's data and the metadata needed to read it back, not
// its times: the log is rewritten in place, so most syncs change no
// metadata at all and cost one flush of the device.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// syncDir makes the directory's entries (a file just created) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
