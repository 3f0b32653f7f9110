package socketio

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDeliverWhilePagesComeAndGo runs deliveries on several goroutines while
// pages connect, register, move and disconnect: under -race it checks the
// membership and fan-out paths, and afterwards that nothing was left behind.
func TestDeliverWhilePagesComeAndGo(t *testing.T) {
	s, srv := startSink(t, Options{Log: discardLog()})
	// The stable page reads continuously, so the flood cannot back up.
	var stableGot atomic.Int64
	dialRaw(t, srv.URL, "busy", &stableGot)

	const workers = 4
	stop := make(chan struct{})
	var delivered atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				n, err := s.Deliver(t.Context(), delivery("busy", "TICK", map[string]any{"n": 1}))
				if err != nil || n < 1 || n > 7 {
					t.Errorf("Deliver = %d, %v; want 1..7 pages", n, err)
					return
				}
				delivered.Add(1)
				time.Sleep(time.Millisecond) // churn, not a flood
			}
		}()
	}
	for round := range 3 {
		var pages []*rawPage
		var ignored atomic.Int64
		for range 6 {
			pages = append(pages, dialRaw(t, srv.URL, "busy", &ignored))
		}
		if round == 1 {
			for _, p := range pages[:3] {
				if err := p.send(`42["REGISTER",{"code":"elsewhere"}]`); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, p := range pages {
			p.conn.Close()
		}
		// A closed page leaves once the server reads the close: the next
		// round's pages must not meet this round's, or a delivery could
		// reach more than 7.
		waitFor(t, "the round's pages to leave", func() bool { return len(s.Clients()) == 1 })
	}
	close(stop)
	wg.Wait()
	if delivered.Load() == 0 {
		t.Fatal("no delivery ran while pages came and went")
	}
	waitFor(t, "only the stable page to remain", func() bool { return len(s.Clients()) == 1 })
	if got := s.rooms.count("elsewhere"); got != 0 {
		t.Errorf("room elsewhere still has %d pages", got)
	}
	sent := delivered.Load()
	waitFor(t, "the stable page to receive every delivery", func() bool { return stableGot.Load() == sent })
	deliver(t, s, delivery("busy", "LAST", nil), 1)
	waitFor(t, "the stable page to receive the last delivery", func() bool { return stableGot.Load() == sent+1 })
}
