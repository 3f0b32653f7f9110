//go:build unix

package main

import (
	"os"
	"syscall"
)

// reloadSignals are the signals that reload the rules file: SIGHUP, as
// `systemctl reload` and `kill -HUP` send it.
func reloadSignals() []os.Signal { return []os.Signal{syscall.SIGHUP} }
