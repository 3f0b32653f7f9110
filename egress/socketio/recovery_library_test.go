package socketio

import (
	"testing"

	"github.com/zishang520/socket.io/servers/socket/v3"
)

// TestLibraryPIDIsReadable guards libraryPID's reflection: if an update of
// the library renames or retypes the socket's pid field, recovery on the
// library path would silently stop; this fails instead.
func TestLibraryPIDIsReadable(t *testing.T) {
	sock := &socket.Socket{}
	if got := libraryPID(sock); got != "" {
		t.Fatalf("libraryPID(zero socket) = %q, want \"\"", got)
	}
	if _, ok := reflectField(sock, "pid"); !ok {
		t.Fatal("socket.Socket has no string field pid: update libraryPID for the new library version")
	}
}
