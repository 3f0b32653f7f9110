package rules

import (
	"slices"
	"strings"
	"unicode"

	"github.com/heraldhq/herald/internal/yamlpos"
)

// covers reports whether every event a when with constraints c matches
// is matched by a when that asks only broad's sources and types: each of
// the two lists is unbounded in broad, or holds all of c's.
func covers(broad, c when) bool {
	within := func(b, x []string) bool {
		return b == nil || x != nil && !slices.ContainsFunc(x, func(v string) bool { return !slices.Contains(b, v) })
	}
	return within(broad.sources, c.sources) && within(broad.types, c.types)
}

// Lint lists what `herald check` warns about beyond Warnings: a rule no
// test of the file covers, a rule that can never fire because an earlier
// rule without continue catches every event it would, and emit names a
// page would have to spell oddly (spaces, lower case). A live reload does
// not run it: none of these stops an alert.
func (s *Set) Lint() yamlpos.List {
	var out yamlpos.List
	covered := map[string]bool{}
	for _, tr := range s.RunTests() {
		for _, m := range tr.Route.Matched {
			covered[m] = true
		}
		for _, e := range tr.Route.Errors {
			covered[e.Rule] = true
		}
	}
	var catchAll *rule
	whens := map[string]*rule{}
	type catcher struct {
		r *rule
		c when
	}
	var broader []catcher // earlier rules without continue whose when names only sources and types
	for _, r := range s.rules {
		switch {
		case catchAll != nil:
			out.Add(r.pos, "warning: rule %q never fires: rule %q (%s) matches every event and has no continue: true",
				r.name, catchAll.name, catchAll.pos)
		case r.when != nil && whens[r.when.src] != nil:
			first := whens[r.when.src]
			out.Add(r.pos, "warning: rule %q never fires: rule %q (%s) has the same when and no continue: true",
				r.name, first.name, first.pos)
		case r.when != nil:
			c := constraints(r.when.prog.Node())
			if i := slices.IndexFunc(broader, func(a catcher) bool { return covers(a.c, c) }); i >= 0 {
				out.Add(r.pos, "warning: rule %q never fires: rule %q (%s) matches every event it would and has no continue: true",
					r.name, broader[i].r.name, broader[i].r.pos)
			}
		}
		if !r.cont {
			if r.when == nil && catchAll == nil {
				catchAll = r
			} else if r.when != nil && whens[r.when.src] == nil {
				whens[r.when.src] = r
			}
			if r.when != nil {
				if c := constraints(r.when.prog.Node()); !c.other && c.conflict == nil {
					broader = append(broader, catcher{r, c})
				}
			}
		}
		if len(s.tests) > 0 && !covered[r.name] {
			out.Add(r.pos, "warning: rule %q: no test of this file routes an event through it (add one under tests:)", r.name)
		}
		if name := r.emit.lit; name != "" && (strings.ContainsAny(name, " \t") || strings.IndexFunc(name, unicode.IsLower) >= 0) {
			out.Add(r.emit.pos, "warning: rule %q: emit name %q has spaces or lower case; pages match names exactly, so write %s",
				r.name, name, EventName(name))
		}
	}
	return out.Sort()
}
