package router_test

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/router"
)

// version writes valid rules file number gen: some filler rules, then a
// rule that fans every "load" event out to three rooms stamping gen into
// the payload.
func version(gen int) []byte {
	var b strings.Builder
	b.WriteString("version: 1\nrules:\n")
	for i := range gen % 4 {
		fmt.Fprintf(&b, "  - name: filler-%d\n    when: source == \"other\" && data.n > %d\n    drop: true\n", i, i)
	}
	fmt.Fprintf(&b, "  - name: stamp-%d\n    when: source == \"load\" && data.seq >= 0\n    to: [a, b, c]\n    set:\n      gen: %d\n", gen, gen)
	return []byte(b.String())
}

// invalid are files a user might save mid-edit: each must be refused.
var invalid = [][]byte{
	[]byte("version: 1\nrules:\n  - name: x\n    when: dta.amount > 1\n"),
	[]byte("version: 1\nrules: [\n"),
	[]byte("version: 1\nrules:\n  - name: x\n   to: y\n"),
	[]byte("version: 1\nrules:\n  - name: x\n    when: source == \n"),
	[]byte(""),
}

// TestConcurrentReload publishes from several goroutines while another
// reloads 100 times, valid and invalid files in turn. No event may be
// lost, and all deliveries of one event must come from one generation.
func TestConcurrentReload(t *testing.T) {
	sink := &recorder{}
	r := router.New(router.Options{Sinks: []egress.Sink{sink}})
	if err := r.Reload("rules.yaml", version(0)); err != nil {
		t.Fatal(err)
	}
	const publishers = 4
	var stop atomic.Bool
	var published atomic.Int64
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200 || !stop.Load(); i++ {
				ev := herald.Event{ID: fmt.Sprintf("%d-%d", p, i), Source: "load", Type: "tick",
					Data: map[string]any{"seq": float64(i)}}
				rc, err := r.Publish(t.Context(), ev)
				if err != nil || rc.Deliveries != 3 {
					t.Errorf("Publish(%s) = %+v, %v, want 3 deliveries", ev.ID, rc, err)
					return
				}
				published.Add(1)
			}
		}()
	}
	valid := 0
	for i := 1; i <= 100; i++ {
		if i%3 == 0 {
			if err := r.Reload("rules.yaml", invalid[i%len(invalid)]); err == nil {
				t.Errorf("reload %d: invalid file accepted", i)
			}
			continue
		}
		valid++
		if err := r.Reload("rules.yaml", version(valid)); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
	}
	stop.Store(true)
	wg.Wait()

	if st := r.Status(); st.Generation != uint64(valid+1) {
		t.Errorf("generation = %d, want %d", st.Generation, valid+1)
	}
	got := sink.all()
	if int64(len(got)) != 3*published.Load() {
		t.Fatalf("%d deliveries for %d events, want 3 each", len(got), published.Load())
	}
	type seen struct {
		gen   any
		rooms string
		n     int
	}
	byEvent := map[string]*seen{}
	for _, d := range got {
		s := byEvent[d.EventID]
		if s == nil {
			s = &seen{gen: d.Payload["gen"]}
			byEvent[d.EventID] = s
		}
		if d.Payload["gen"] != s.gen {
			t.Fatalf("event %s routed by generations %v and %v", d.EventID, s.gen, d.Payload["gen"])
		}
		if want := fmt.Sprintf("stamp-%v", s.gen); d.Rule != want {
			t.Fatalf("event %s: rule %s with gen %v: a half-loaded set", d.EventID, d.Rule, s.gen)
		}
		s.rooms += d.Room
		s.n++
	}
	if int64(len(byEvent)) != published.Load() {
		t.Fatalf("%d events delivered, %d published", len(byEvent), published.Load())
	}
	gens := map[any]bool{}
	for id, s := range byEvent {
		if s.n != 3 || s.rooms != "abc" {
			t.Errorf("event %s: deliveries to %q, want a, b, c once each", id, s.rooms)
		}
		gens[s.gen] = true
	}
	// One publisher's later event never sees an older generation: swaps
	// are atomic and in order.
	for p := range publishers {
		last := -1
		for i := 0; ; i++ {
			s := byEvent[fmt.Sprintf("%d-%d", p, i)]
			if s == nil {
				break
			}
			g, ok := s.gen.(int)
			if !ok || g < last {
				t.Fatalf("publisher %d event %d: generation %v after %d", p, i, s.gen, last)
			}
			last = g
		}
	}
	t.Logf("%d events, %d generations seen", len(byEvent), len(gens))
}

// TestUndoneBrokenSaveIsLogged: a save refused with errors, then the file
// saved back as it runs (the mistake undone): nothing is loaded, but the
// log says the errors no longer apply, or its last word would be the
// refused save's ERROR while everything works.
func TestUndoneBrokenSaveIsLogged(t *testing.T) {
	var logs strings.Builder
	r := router.New(router.Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := r.Reload("rules.yaml", version(1)); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload("rules.yaml", invalid[0]); err == nil {
		t.Fatal("the broken save loaded")
	}
	if err := r.Reload("rules.yaml", version(1)); !errors.Is(err, router.ErrUnchanged) {
		t.Fatalf("saving the running file back = %v, want ErrUnchanged", err)
	}
	if !strings.Contains(logs.String(), "rules file back to the running rules") {
		t.Errorf("undoing a broken save logged nothing:\n%s", logs.String())
	}
	if err := r.Reload("rules.yaml", version(1)); !errors.Is(err, router.ErrUnchanged) ||
		strings.Count(logs.String(), "back to the running rules") != 1 {
		t.Errorf("a save of the unchanged file with no error before it logged it again:\n%s", logs.String())
	}
}
