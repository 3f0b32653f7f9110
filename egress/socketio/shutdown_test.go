package socketio

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/journal"
	"github.com/heraldhq/herald/journal/mem"
	"github.com/heraldhq/herald/journal/recovery"
)

// slowSessions is a journal whose session saves take a while, as on a busy
// disk, and which counts a save that ends after it was closed: herald
// closes the journal right after the sink.
type slowSessions struct {
	journal.Journal
	closed      atomic.Bool
	saved, late atomic.Int64
}

func (j *slowSessions) SaveSession(ctx context.Context, s journal.Session) error {
	time.Sleep(50 * time.Millisecond)
	if j.closed.Load() {
		j.late.Add(1)
		return journal.ErrClosed
	}
	j.saved.Add(1)
	return j.Journal.SaveSession(ctx, s)
}

// TestCloseLetsSessionSavesFinish: the session a page leaves behind when
// the sink closes (so that it recovers on the restarted herald) is saved
// before Close returns, not against a journal closed under it.
func TestCloseLetsSessionSavesFinish(t *testing.T) {
	j := &slowSessions{Journal: mem.New()}
	defer j.Journal.Close()
	s, srv := startSink(t, Options{Recovery: recovery.New(j, recovery.Options{})})
	dialRaw(t, srv.URL, "abc", nil)
	waitFor(t, "the session saved at connect", func() bool { return j.saved.Load() == 1 })

	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	j.closed.Store(true)
	waitFor(t, "the session saved at disconnect", func() bool { return j.saved.Load()+j.late.Load() == 2 })
	if n := j.late.Load(); n != 0 {
		t.Fatalf("%d session saves ended after Close returned, against a closed journal", n)
	}
}
