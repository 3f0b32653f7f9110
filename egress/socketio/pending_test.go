package socketio

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/journal/mem"
	"github.com/heraldhq/herald/journal/recovery"
)

// TestRecoveryLeavesOutANameNoPageTakes: an alert journaled under a name
// Socket.IO keeps for itself (an older herald let rules emit one) is not
// sent to the page that registers for its room: the page would drop its
// connection on it, recover it again and drop again, in a loop. The
// alerts around it still arrive, in order.
func TestRecoveryLeavesOutANameNoPageTakes(t *testing.T) {
	j := mem.New()
	defer j.Close()
	for _, name := range []string{"BEFORE", "disconnect", "AFTER"} {
		d := delivery("abc", name, map[string]any{"n": name})
		d.Time = time.Now()
		if _, err := j.Append(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	_, srv := startSink(t, Options{Recovery: recovery.New(j, recovery.Options{})})
	p := dialRaw(t, srv.URL, "abc", nil)
	for _, want := range []string{`42["BEFORE"`, `42["AFTER"`} {
		if got := p.next(t); !strings.HasPrefix(got, want) {
			t.Fatalf("page got %.60s, want %s…: every pending alert a page can take, in order, and no other", got, want)
		}
	}
}
