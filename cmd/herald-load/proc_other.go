//go:build !unix

package main

import (
	"errors"
	"time"
)

// raiseNoFile has nothing to raise where there is no RLIMIT_NOFILE.
func raiseNoFile() (cur, hard uint64, err error) {
	return 0, 0, errors.New("open-files limit: not supported on this system")
}

// selfCPU is unknown here; reports show 0.
func selfCPU() time.Duration { return 0 }
