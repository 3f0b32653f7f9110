package router_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/router"
)

// connAdapter is an ingress with a connection of its own: each Run is
// recorded as a "session" that starts and ends.
type connAdapter struct {
	name, opt string
	log       *sessionLog
	fail      bool
}

func (connAdapter) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNoContent)
}

func (a connAdapter) Run(ctx context.Context) error {
	a.log.add("start " + a.name + " " + a.opt)
	if a.fail {
		return errors.New("gave up")
	}
	<-ctx.Done()
	a.log.add("stop " + a.name + " " + a.opt)
	return nil
}

type sessionLog struct {
	mu     sync.Mutex
	events []string
	change chan struct{}
}

func (l *sessionLog) add(e string) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
	l.change <- struct{}{}
}

// wait returns the events once there are n of them.
func (l *sessionLog) wait(t *testing.T, n int) []string {
	t.Helper()
	for {
		l.mu.Lock()
		got := append([]string(nil), l.events...)
		l.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-l.change:
		case <-time.After(10 * time.Second):
			t.Fatalf("sessions = %q, want %d events", got, n)
		}
	}
}

func connRegistry(log *sessionLog) *ingress.Registry {
	reg := echoRegistry()
	reg.Register("conn", func(p ingress.Params) (ingress.Adapter, error) {
		opt := ""
		if p.Options != nil && len(p.Options.Content) >= 2 {
			opt = p.Options.Content[1].Value
		}
		return connAdapter{name: p.Name, opt: opt, log: log, fail: opt == "fail"}, nil
	})
	return reg
}

// TestRunnersFollowReloads: runners start only once RunIngress runs
// (check and route start nothing), survive a reload that leaves their block
// alone, are replaced (old one stopped first) when it changes, are stopped
// when it goes away, and all stop at shutdown. A block without a path is
// fine for a runner and refused for anything else.
func TestRunnersFollowReloads(t *testing.T) {
	log := &sessionLog{change: make(chan struct{}, 100)}
	r := router.New(router.Options{Registry: connRegistry(log)})
	file := func(opt, extra string) []byte {
		return []byte("version: 1\ningress:\n  live:\n    type: conn\n    opt: " + opt + "\n" + extra + "rules: []\n")
	}
	if err := r.Reload("rules.yaml", file("a", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Check("rules.yaml", file("b", "")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { r.RunIngress(ctx); close(done) }()
	log.wait(t, 1)

	// Another instance added: "live" keeps running.
	if err := r.Reload("rules.yaml", file("a", "  hook:\n    type: echo\n    path: /hook\n")); err != nil {
		t.Fatal(err)
	}
	// "live" changed: stopped, then started with the new block.
	if err := r.Reload("rules.yaml", file("b", "")); err != nil {
		t.Fatal(err)
	}
	log.wait(t, 3)
	// Removed.
	if err := r.Reload("rules.yaml", []byte("version: 1\nrules: []\n")); err != nil {
		t.Fatal(err)
	}
	log.wait(t, 4)
	if err := r.Reload("rules.yaml", file("c", "")); err != nil {
		t.Fatal(err)
	}
	log.wait(t, 5)
	cancel()
	<-done
	got := strings.Join(log.wait(t, 6), "; ")
	want := "start live a; stop live a; start live b; stop live b; start live c; stop live c"
	if got != want {
		t.Errorf("sessions = %s\nwant       %s", got, want)
	}

	err := r.Reload("rules.yaml", []byte("version: 1\ningress:\n  nopath:\n    type: echo\nrules: []\n"))
	if err == nil || !strings.Contains(err.Error(), `ingress "nopath": missing required key "path"`) {
		t.Errorf("an HTTP-only ingress without a path: err = %v", err)
	}
}

// TestFailedRunnerRestartsOnChange: a runner that gave up is started again
// by the next reload, even of an identical block (the user fixed what was
// outside the file, e.g. logged in again, and saved).
func TestFailedRunnerRestartsOnChange(t *testing.T) {
	log := &sessionLog{change: make(chan struct{}, 100)}
	r := router.New(router.Options{Registry: connRegistry(log)})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go r.RunIngress(ctx)
	if err := r.Reload("rules.yaml", []byte("version: 1\ningress:\n  live:\n    type: conn\n    opt: fail\nrules: []\n")); err != nil {
		t.Fatal(err)
	}
	log.wait(t, 1)
	// Save again until the router has seen the failure (Run returned
	// after it logged its start) and so starts the instance anew.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		data := fmt.Sprintf("version: 1\n# saved again %d\ningress:\n  live:\n    type: conn\n    opt: fail\nrules: []\n", i)
		if err := r.Reload("rules.yaml", []byte(data)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		log.mu.Lock()
		got := append([]string(nil), log.events...)
		log.mu.Unlock()
		if len(got) >= 2 {
			if got[1] != "start live fail" {
				t.Errorf("sessions = %q", got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a runner that gave up was never started again")
		}
	}
}

// TestRestartStopped: a reload request for unchanged rules starts again
// the runner that gave up and leaves the running one alone (its
// connection is not dropped).
func TestRestartStopped(t *testing.T) {
	log := &sessionLog{change: make(chan struct{}, 100)}
	r := router.New(router.Options{Registry: connRegistry(log)})
	if got := r.RestartStopped(); got != nil {
		t.Fatalf("before RunIngress RestartStopped = %q, want nothing", got)
	}
	data := []byte("version: 1\ningress:\n  live:\n    type: conn\n    opt: a\n  broken:\n    type: conn\n    opt: fail\nrules: []\n")
	if err := r.Reload("rules.yaml", data); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { r.RunIngress(ctx); close(done) }()
	log.wait(t, 2)
	// "broken" has logged its start; wait until the router has its failure.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := r.Reload("rules.yaml", data); !errors.Is(err, router.ErrUnchanged) {
			t.Fatalf("Reload(same bytes) = %v, want ErrUnchanged", err)
		}
		got := r.RestartStopped()
		if len(got) == 1 && got[0] == "broken" {
			break
		}
		if len(got) != 0 || time.Now().After(deadline) {
			t.Fatalf("RestartStopped = %q, want [broken] once it has stopped", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	log.wait(t, 3)
	cancel()
	<-done
	count := map[string]int{}
	for _, e := range log.wait(t, 4) {
		count[e]++
	}
	want := map[string]int{"start live a": 1, "stop live a": 1, "start broken fail": 2}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("sessions = %v, want %v (live kept throughout, broken started twice)", count, want)
	}
}

// statusAdapter is a runner that reports which build of it is running.
type statusAdapter struct {
	connAdapter
	build int
}

func (a statusAdapter) RunStatus() ingress.RunStatus {
	return ingress.RunStatus{State: ingress.StateConnected, Session: fmt.Sprintf("build-%d", a.build)}
}

// TestStatusShowsTheRunningInstance: /api/rules reports the connection of
// the instance that runs (a reload leaving its block alone builds a new,
// idle copy: the running one must still be the one reported), nothing
// before RunIngress, and "stopped" with the reason once Run gave up.
func TestStatusShowsTheRunningInstance(t *testing.T) {
	log := &sessionLog{change: make(chan struct{}, 100)}
	reg := connRegistry(log)
	var mu sync.Mutex
	builds := 0
	reg.Register("stat", func(p ingress.Params) (ingress.Adapter, error) {
		mu.Lock()
		defer mu.Unlock()
		builds++
		opt := p.Options.Content[1].Value
		return statusAdapter{connAdapter: connAdapter{name: p.Name, opt: opt, log: log, fail: opt == "fail"}, build: builds}, nil
	})
	r := router.New(router.Options{Registry: reg})
	file := func(opt, extra string) []byte {
		return []byte("version: 1\ningress:\n  live:\n    type: stat\n    opt: " + opt + "\n" + extra + "rules: []\n")
	}
	conn := func() *ingress.RunStatus {
		for _, in := range r.Status().Instances {
			if in.Name == "live" {
				return in.Connection
			}
		}
		t.Fatalf("no instance live in %+v", r.Status().Instances)
		return nil
	}
	if err := r.Reload("rules.yaml", file("a", "")); err != nil {
		t.Fatal(err)
	}
	if c := conn(); c != nil {
		t.Errorf("before RunIngress the connection is %+v, want none", c)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { r.RunIngress(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	log.wait(t, 1)
	if err := r.Reload("rules.yaml", file("a", "  hook:\n    type: echo\n    path: /hook\n")); err != nil {
		t.Fatal(err)
	}
	if c := conn(); c == nil || c.Session != "build-1" || c.State != ingress.StateConnected {
		t.Errorf("after an unrelated reload the connection is %+v, want the running build-1, connected", c)
	}
	if err := r.Reload("rules.yaml", file("fail", "")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c := conn(); c == nil || c.State != ingress.StateStopped; c = conn() {
		if time.Now().After(deadline) {
			t.Fatalf("the connection of a runner that gave up is %+v, want stopped", c)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if c := conn(); c.LastError != "gave up" || c.LastErrorAt.IsZero() {
		t.Errorf("stopped connection = %+v, want the error Run returned and when", c)
	}
}

// TestRunIngressAgain: after RunIngress returns, a reload starts nothing,
// and a second call starts the runners afresh: in cluster mode a node that
// loses the singleton lease stops its Twitch session and starts a new one
// when the lease comes back.
func TestRunIngressAgain(t *testing.T) {
	log := &sessionLog{change: make(chan struct{}, 100)}
	r := router.New(router.Options{Registry: connRegistry(log)})
	if err := r.Reload("rules.yaml", []byte("version: 1\ningress:\n  live:\n    type: conn\n    opt: a\nrules: []\n")); err != nil {
		t.Fatal(err)
	}
	for term := range 2 {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { r.RunIngress(ctx); close(done) }()
		log.wait(t, 2*term+1)
		cancel()
		<-done
		log.wait(t, 2*term+2)
	}
	if err := r.Reload("rules.yaml", []byte("version: 1\ningress:\n  live:\n    type: conn\n    opt: b\nrules: []\n")); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(log.wait(t, 4), "; ")
	if want := "start live a; stop live a; start live a; stop live a"; got != want {
		t.Errorf("sessions = %s\nwant       %s (nothing started between terms)", got, want)
	}
}

// updAdapter is a runner that takes a changed block over while it runs
// (ingress.Updater), unless the new one says "restart" or "fail".
type updAdapter struct {
	*connAdapter
	build int
}

func (a updAdapter) Update(next ingress.Runner) bool {
	n := next.(updAdapter)
	if n.opt == "restart" || n.opt == "fail" {
		return false
	}
	a.log.add(fmt.Sprintf("update %s %s to %s", a.name, a.opt, n.opt))
	a.opt = n.opt
	return true
}

func (a updAdapter) RunStatus() ingress.RunStatus {
	return ingress.RunStatus{State: ingress.StateConnected, Session: fmt.Sprintf("build-%d", a.build)}
}

// TestUpdaterTakesTheChangeOver: a changed block is offered to the
// running Updater, which keeps running (no stop, no start; its status is
// still the one reported) and is from then on the block's: saving the
// block it took over again changes nothing. A change it refuses stops
// it and starts the new adapter, as for any Runner, and so does a
// change to an instance whose Run gave up (it is not offered).
func TestUpdaterTakesTheChangeOver(t *testing.T) {
	log := &sessionLog{change: make(chan struct{}, 100)}
	reg := connRegistry(log)
	var mu sync.Mutex
	builds := 0
	reg.Register("upd", func(p ingress.Params) (ingress.Adapter, error) {
		mu.Lock()
		defer mu.Unlock()
		builds++
		opt := p.Options.Content[1].Value
		return updAdapter{connAdapter: &connAdapter{name: p.Name, opt: opt, log: log, fail: opt == "fail"}, build: builds}, nil
	})
	r := router.New(router.Options{Registry: reg})
	file := func(opt, extra string) []byte {
		return []byte("version: 1\ningress:\n  live:\n    type: upd\n    opt: " + opt + "\n" + extra + "rules: []\n")
	}
	session := func() string {
		for _, in := range r.Status().Instances {
			if in.Name == "live" && in.Connection != nil {
				return in.Connection.Session + " " + in.Connection.State
			}
		}
		return ""
	}
	if err := r.Reload("rules.yaml", file("a", "")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { r.RunIngress(ctx); close(done) }()
	log.wait(t, 1)

	if err := r.Reload("rules.yaml", file("b", "")); err != nil {
		t.Fatal(err)
	}
	log.wait(t, 2)
	if got := session(); got != "build-1 connected" {
		t.Errorf("after the update the status is of %q, want the running build-1", got)
	}
	// The same block again, beside another instance: nothing to do.
	if err := r.Reload("rules.yaml", file("b", "  hook:\n    type: echo\n    path: /hook\n")); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload("rules.yaml", file("restart", "")); err != nil {
		t.Fatal(err)
	}
	log.wait(t, 4)
	if err := r.Reload("rules.yaml", file("fail", "")); err != nil {
		t.Fatal(err)
	}
	log.wait(t, 6)
	// Wait until the router has seen the failure, then change the block.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(session(), "stopped") {
		if time.Now().After(deadline) {
			t.Fatalf("status = %q, want stopped", session())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := r.Reload("rules.yaml", file("c", "")); err != nil {
		t.Fatal(err)
	}
	log.wait(t, 7)
	cancel()
	<-done
	got := strings.Join(log.wait(t, 8), "; ")
	want := "start live a; update live a to b; stop live a; start live restart; stop live restart; start live fail; start live c; stop live c"
	if got != want {
		t.Errorf("sessions = %s\nwant       %s", got, want)
	}
}
