// Package registry is the name → factory map behind ingress.Registry and
// egress.Registry: plugins add themselves from init(), the server looks
// them up by the type name a config file gives.
package registry

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Of maps type names to values of type F (a plugin family's factory).
// Create it with New.
type Of[F any] struct {
	kind string // "ingress", "egress": for messages
	mu   sync.RWMutex
	m    map[string]F
}

// New returns an empty registry for a family of plugins called kind.
func New[F any](kind string) *Of[F] { return &Of[F]{kind: kind, m: map[string]F{}} }

// Register adds f under typ. It panics on an empty name or a duplicate:
// both are programming errors, caught at start-up (like database/sql).
func (r *Of[F]) Register(typ string, f F) {
	if typ == "" {
		panic(r.kind + ": Register with an empty type name")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[typ]; dup {
		panic(r.kind + ": Register called twice for type " + typ)
	}
	r.m[typ] = f
}

// Lookup returns the value registered under typ, or an error that lists
// the known types so a typo is easy to fix.
func (r *Of[F]) Lookup(typ string) (F, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if f, ok := r.m[typ]; ok {
		return f, nil
	}
	var zero F
	return zero, fmt.Errorf("unknown %s type %q (known: %s)", r.kind, typ, strings.Join(r.typesLocked(), ", "))
}

// Types lists the registered type names, sorted.
func (r *Of[F]) Types() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.typesLocked()
}

func (r *Of[F]) typesLocked() []string {
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
