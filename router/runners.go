package router

import (
	"context"
	"crypto/sha256"
	"net/http"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/rules"
)

// runnerSpec is an adapter of a snapshot that has a life of its own
// (ingress.Runner), with the fingerprint of the block that declared it.
type runnerSpec struct {
	name string
	key  [32]byte
	run  ingress.Runner
}

// liveRunner is a Runner the router has started.
type liveRunner struct {
	key    [32]byte
	run    ingress.Runner
	cancel context.CancelFunc
	done   chan struct{}
	failed bool // Run gave up; guarded by runners.mu
	err    error
	at     time.Time // when it gave up
}

// runners starts and stops the snapshot's Runners: a reload keeps an
// instance whose block did not change (its connection survives), hands a
// changed block to a running Updater that can take it over (its
// connection survives too), stops one whose block changed otherwise or
// went away, and starts the new ones.
type runners struct {
	mu   sync.Mutex
	ctx  context.Context // nil until RunIngress: check and route start nothing
	wg   sync.WaitGroup
	live map[string]*liveRunner
}

// mount puts an adapter of spec into the snapshot being built: on the
// mux when the block gives a path, and among the runners when it is one.
// A block without a path must be a Runner.
func mount(mux *http.ServeMux, list *[]runnerSpec, spec rules.IngressSpec, a ingress.Adapter) error {
	run, isRunner := a.(ingress.Runner)
	if spec.Path == "" && !isRunner {
		return errNoPath
	}
	if spec.Path != "" {
		if err := handle(mux, spec.Path, a); err != nil {
			return err
		}
	}
	if isRunner {
		*list = append(*list, runnerSpec{name: spec.Name, key: fingerprint(spec), run: run})
	}
	return nil
}

type noPathError struct{}

func (noPathError) Error() string { return `missing required key "path"` }

var errNoPath error = noPathError{}

// fingerprint identifies a declaration: type, path and the options after
// ${ENV} expansion, so a changed secret in the environment counts too.
func fingerprint(spec rules.IngressSpec) [32]byte {
	opts, _ := yaml.Marshal(spec.Options)
	h := sha256.New()
	for _, part := range [][]byte{[]byte(spec.Type), {0}, []byte(spec.Path), {0}, opts} {
		h.Write(part)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// RunIngress runs the Runners of the current rules and of every later
// reload until ctx ends, then stops them all and returns once they have
// returned. Call it after the server listens; calls must not overlap, but
// a later call starts the runners afresh (in cluster mode each term of
// the singleton lease is one call).
func (r *Router) RunIngress(ctx context.Context) {
	r.run.mu.Lock()
	r.run.ctx = ctx
	r.applyRunners(r.cur.Load())
	r.run.mu.Unlock()
	<-ctx.Done()
	r.run.mu.Lock()
	r.run.ctx = nil // reloads from now on start nothing
	r.run.mu.Unlock()
	r.run.wg.Wait()
	r.run.mu.Lock()
	r.run.live = nil
	r.run.mu.Unlock()
}

// startRunners is called by Reload after the swap.
func (r *Router) startRunners(s *snapshot) {
	r.run.mu.Lock()
	defer r.run.mu.Unlock()
	if r.run.ctx != nil {
		r.applyRunners(s)
	}
}

// applyRunners brings the live runners in line with s; r.run.mu is held.
func (r *Router) applyRunners(s *snapshot) {
	if r.run.live == nil {
		r.run.live = map[string]*liveRunner{}
	}
	want := map[string]runnerSpec{}
	for _, rs := range s.runners {
		want[rs.name] = rs
	}
	for name, lr := range r.run.live {
		if rs, ok := want[name]; ok && rs.key == lr.key && !lr.failed {
			delete(want, name) // unchanged: keep the running one
			continue
		}
		if rs, ok := want[name]; ok && !lr.failed && r.update(name, lr, rs) {
			delete(want, name) // changed, taken over by the running one
			continue
		}
		lr.cancel()
		delete(r.run.live, name)
		if rs, ok := want[name]; ok {
			delete(want, name)
			r.start(rs, lr.done)
		}
	}
	for _, rs := range want {
		r.start(rs, nil)
	}
}

// update offers rs, the changed block of the running lr, to lr's Updater
// (ingress.Updater): true when lr took it over and goes on running, now
// as rs's block; r.run.mu is held.
func (r *Router) update(name string, lr *liveRunner, rs runnerSpec) bool {
	u, ok := lr.run.(ingress.Updater)
	if !ok || !u.Update(rs.run) {
		return false
	}
	lr.key = rs.key
	r.opts.Log.Info("ingress block changed; the running instance took the change over", "ingress", name)
	return true
}

// start runs rs once after (the replaced runner has returned); r.run.mu is held.
func (r *Router) start(rs runnerSpec, after <-chan struct{}) {
	ctx, cancel := context.WithCancel(r.run.ctx)
	lr := &liveRunner{key: rs.key, run: rs.run, cancel: cancel, done: make(chan struct{})}
	r.run.live[rs.name] = lr
	log := r.opts.Log.With("ingress", rs.name)
	r.run.wg.Go(func() {
		defer close(lr.done)
		defer cancel()
		if after != nil {
			<-after // one connection per instance at a time
		}
		if ctx.Err() != nil {
			return
		}
		if err := rs.run.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("ingress stopped; fix the cause, then save the rules file or send SIGHUP (systemctl reload) to start it again", "err", err)
			r.run.mu.Lock()
			lr.failed, lr.err, lr.at = true, err, r.opts.Now()
			r.run.mu.Unlock()
		}
	})
}

// RestartStopped starts again every ingress instance whose Run gave up,
// leaving the running ones alone, and returns their names. A reload
// request for an unchanged file calls it: saving the file again, or a
// SIGHUP, is how one says "I fixed what stopped it" (a login, a secret
// in the environment, a service that was down).
func (r *Router) RestartStopped() []string {
	r.run.mu.Lock()
	defer r.run.mu.Unlock()
	if r.run.ctx == nil {
		return nil
	}
	var names []string
	for _, rs := range r.cur.Load().runners {
		lr := r.run.live[rs.name]
		if lr == nil || !lr.failed {
			continue
		}
		delete(r.run.live, rs.name)
		r.start(rs, lr.done)
		names = append(names, rs.name)
		r.opts.Log.Info("ingress started again after a reload request", "ingress", rs.name)
	}
	return names
}

// runStatus reports the running instance name's connection: nil when it
// has none to report (not a Runner, not a Statuser, or nothing started,
// as in herald check). The instance that runs is the live one, which
// survives reloads that leave its block alone, not the snapshot's copy.
func (r *Router) runStatus(name string) *ingress.RunStatus {
	r.run.mu.Lock()
	lr := r.run.live[name]
	var failed bool
	var err error
	var at time.Time
	if lr != nil {
		failed, err, at = lr.failed, lr.err, lr.at
	}
	r.run.mu.Unlock()
	if lr == nil {
		return nil
	}
	s, ok := lr.run.(ingress.Statuser)
	if !ok {
		return nil
	}
	st := s.RunStatus()
	if failed {
		st.State, st.LastError, st.LastErrorAt = ingress.StateStopped, err.Error(), at
	}
	if st.State == "" {
		return nil
	}
	return &st
}
