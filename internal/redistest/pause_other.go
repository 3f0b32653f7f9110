//go:build !unix

package redistest

import (
	"errors"
	"os"
)

// freeze needs SIGSTOP and SIGCONT, which only Unix has.
func freeze(*os.Process, bool) error {
	return errors.New("pausing a process needs SIGSTOP (Unix only)")
}
