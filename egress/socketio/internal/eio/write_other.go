//go:build !unix

package eio

import "net"

// fdOf reports no descriptor where there is no non-blocking write(2)
// (Windows): every frame then goes through the writer goroutine, which is
// correct everywhere and costs one goroutine hand-off per burst.
func fdOf(net.Conn) (int, bool) { return 0, false }

// tryWrite is never called without a descriptor; it reports a full socket
// so a caller would fall back to the writer goroutine.
func (c *Conn) tryWrite([]byte) (int, error) { return 0, nil }
