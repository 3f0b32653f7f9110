//go:build unix

package redistest

import (
	"os"
	"syscall"
)

// freeze stops (SIGSTOP) or continues (SIGCONT) p.
func freeze(p *os.Process, stop bool) error {
	if stop {
		return p.Signal(syscall.SIGSTOP)
	}
	return p.Signal(syscall.SIGCONT)
}
