package bolt

import "sync"

// tail is what group commits wrote since the last checkpoint, for readers:
// a bbolt read transaction sees only what the last checkpoint committed,
// while the open transaction (see wal.go) holds the rest. Only records and
// sessions are read outside the committer; counters live in the index.
type tail struct {
	// mu is read-held by a reader across its tail lookups and its bbolt
	// read, and held by the checkpoint across the commit that moves the
	// tail into bbolt, so a reader finds an entry in one or the other.
	mu       sync.RWMutex
	records  map[uint64][]byte
	sessions map[string][]byte
}

// tailPuts is what one group adds to the tail once it is durable.
type tailPuts struct {
	records  []tailRecord
	sessions []tailSession
}

type tailRecord struct {
	seq uint64
	rec []byte
}

type tailSession struct {
	pid string
	v   []byte
}

func newTail() *tail {
	return &tail{records: map[uint64][]byte{}, sessions: map[string][]byte{}}
}

func (t *tail) add(p *tailPuts) {
	if len(p.records) == 0 && len(p.sessions) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range p.records {
		t.records[r.seq] = r.rec
	}
	for _, s := range p.sessions {
		t.sessions[s.pid] = s.v
	}
}

// clear empties the tail; the caller holds mu and has just committed it.
func (t *tail) clear() {
	clear(t.records)
	clear(t.sessions)
}
