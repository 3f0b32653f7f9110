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

// lossy is a journal whose history can be lost (a new epoch, as when
// Redis restarts empty) and that counts the sessions saved.
type lossy struct {
	unreachable
	epoch        atomic.Pointer[string]
	saved, fails atomic.Int64
	savesDown    atomic.Bool // only SaveSession fails
}

func (j *lossy) Epoch() string {
	if e := j.epoch.Load(); e != nil {
		return *e
	}
	return j.unreachable.Epoch()
}

func (j *lossy) SaveSession(ctx context.Context, s journal.Session) error {
	if j.savesDown.Load() {
		j.fails.Add(1)
		return errUnreachable
	}
	if err := j.unreachable.SaveSession(ctx, s); err != nil {
		return err
	}
	j.saved.Add(1)
	return nil
}

// TestSessionsSavedAgainWithoutWaitingForTheRefresh: a connected page's
// session is saved again within seconds when the journal's history
// changes (its sessions are gone with it) and when its save failed, not a
// third of the recovery window (here an hour) later.
func TestSessionsSavedAgainWithoutWaitingForTheRefresh(t *testing.T) {
	for _, tc := range []struct {
		name string
		down bool // the session cannot be saved when the page connects
		lose bool // then its history is lost
	}{
		{name: "the history changed", lose: true},
		{name: "the save failed", down: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &lossy{unreachable: unreachable{Journal: mem.New()}}
			defer j.Journal.Close()
			j.savesDown.Store(tc.down)
			k := recovery.New(j, recovery.Options{Window: 3 * time.Hour})
			_, srv := startSink(t, Options{Recovery: k})
			dialRaw(t, srv.URL, "abc", nil)
			if tc.down {
				waitFor(t, "the save at connect to fail", func() bool { return j.fails.Load() >= 1 })
			} else {
				waitFor(t, "the session saved at connect", func() bool { return j.saved.Load() >= 1 })
			}
			j.savesDown.Store(false)
			if tc.lose {
				e := "lost"
				j.epoch.Store(&e)
			}
			want := int64(2)
			if tc.down {
				want = 1
			}
			waitFor(t, "the session saved again", func() bool { return j.saved.Load() >= want })
		})
	}
}
