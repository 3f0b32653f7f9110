//go:build !unix

package main

import "os"

// reloadSignals is empty where there is no SIGHUP (Windows): the rules
// file is reloaded by the file watcher on every save instead.
func reloadSignals() []os.Signal { return nil }
