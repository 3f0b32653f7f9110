package router_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/router"
)

// observations is an Observer that keeps what it is told.
type observations struct {
	mu  sync.Mutex
	all []router.Observation
}

func (o *observations) Observe(ob router.Observation) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.all = append(o.all, ob)
}

func TestObserverSeesEveryEventsFate(t *testing.T) {
	const file = `version: 1
rules:
  - {name: drop-bots, when: 'data.user == "bot"', drop: true}
  - {name: fan-out, when: 'type == "raid"', emit: RAID, to: [a, b, c, d, e, f]}
`
	obs := &observations{}
	sink := &recorder{}
	rt := router.New(router.Options{Sinks: []egress.Sink{sink}, Observer: router.Observers{obs}})
	if err := rt.Reload("rules.yaml", []byte(file)); err != nil {
		t.Fatal(err)
	}
	events := []herald.Event{
		{ID: "drop", Source: "trigger", Type: "follow", Code: "a", Data: map[string]any{"user": "bot"}},
		{ID: "raid", Source: "twitch", Type: "raid", Data: map[string]any{"user": "ada"}},
		{ID: "none", Source: "kofi", Type: "Donation"},
	}
	for _, ev := range events {
		if _, err := rt.Publish(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		id       string
		dropped  bool
		unrouted bool
		matched  []string
		pages    []int
	}{
		{name: "a drop rule", id: "drop", dropped: true, matched: []string{"drop-bots"}},
		{name: "six rooms, past the inline counts", id: "raid", matched: []string{"fan-out"}, pages: []int{1, 1, 1, 1, 1, 1}},
		{name: "no rule and no code", id: "none", unrouted: true},
	}
	if len(obs.all) != len(tests) {
		t.Fatalf("observer saw %d events, want %d", len(obs.all), len(tests))
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := obs.all[i]
			if o.Event.ID != tc.id || o.Result.Dropped != tc.dropped || o.Result.Unrouted != tc.unrouted {
				t.Errorf("observation = {id %q dropped %v unrouted %v}, want {%q %v %v}",
					o.Event.ID, o.Result.Dropped, o.Result.Unrouted, tc.id, tc.dropped, tc.unrouted)
			}
			if !slices.Equal(o.Result.Matched, tc.matched) {
				t.Errorf("matched = %v, want %v", o.Result.Matched, tc.matched)
			}
			var pages []int
			for j := range o.Result.Deliveries {
				pages = append(pages, o.Pages.At(j))
			}
			if !slices.Equal(pages, tc.pages) {
				t.Errorf("pages = %v, want %v", pages, tc.pages)
			}
			if o.Generation != 1 || o.Done.Before(o.Event.Received) {
				t.Errorf("generation %d, done %v before received %v", o.Generation, o.Done, o.Event.Received)
			}
		})
	}
}

func TestStatusQuotesTheOffendingLine(t *testing.T) {
	rt := router.New(router.Options{})
	bad := "version: 1\nrules:\n  - {name: x, when: 'data.amount >>= 3', emit: X}\n"
	if err := rt.Reload("rules.yaml", []byte(bad)); err == nil {
		t.Fatal("Reload of a broken file succeeded")
	}
	st := rt.Status()
	if st.LastError == nil || len(st.LastError.Errors) == 0 {
		t.Fatalf("Status().LastError = %+v, want positioned errors", st.LastError)
	}
	e := st.LastError.Errors[0]
	if e.File != "rules.yaml" || e.Line != 3 || e.Source != "  - {name: x, when: 'data.amount >>= 3', emit: X}" {
		t.Errorf("error = %+v, want rules.yaml line 3 with its source", e)
	}
	if st.Counters.FailedReloads != 1 {
		t.Errorf("FailedReloads = %d, want 1", st.Counters.FailedReloads)
	}
}
