package bolt

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTrimMeetingCloseIsNoFailure: Close marks the store closed before it
// stops the trimmer, so a trim running then meets journal.ErrClosed. That
// is the end of the loop, not a failure to log at ERROR (herald stopping
// because its port was taken logged "journal trimming failed").
func TestTrimMeetingCloseIsNoFailure(t *testing.T) {
	var logs lockedLog
	s, err := Open(t.TempDir(), Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.closed = true // Close's first step, before it stops the trimmer
	s.mu.Unlock()
	s.trimSoon()
	select {
	case <-s.trimmed:
	case <-time.After(5 * time.Second):
		t.Errorf("the trimmer went on after meeting a closed store")
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a trim meeting Close was logged as a failure:\n%s", logs.String())
	}
	s.mu.Lock()
	s.closed = false
	s.mu.Unlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
