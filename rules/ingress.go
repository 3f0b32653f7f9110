package rules

import (
	"fmt"
	pathpkg "path"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/internal/yamlpos"
)

// maxOptionNodes bounds the copy of one ingress block, so aliases cannot
// blow it up (the "billion laughs" file).
const maxOptionNodes = 10000

func (p *parser) ingressSection(n *yaml.Node) []IngressSpec {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "ingress: expected a mapping of instance name to block, got %s", describe(n))
		return nil
	}
	var out []IngressSpec
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if f := first[k.Value]; f != nil {
			p.errorf(k, "ingress: duplicate instance %q (first at %s)", k.Value, yamlpos.At(p.file, f))
			continue
		}
		first[k.Value] = k
		if !validInstanceName(k.Value) {
			p.errorf(k, "ingress: bad instance name %q (use lower-case letters, digits, _ and -)", k.Value)
			continue
		}
		if spec, ok := p.ingressInstance(k, v); ok {
			out = append(out, spec)
		}
	}
	return out
}

func (p *parser) ingressInstance(k, v *yaml.Node) (IngressSpec, bool) {
	what := fmt.Sprintf("ingress %q", k.Value)
	if v.Kind != yaml.MappingNode {
		p.errorf(v, "%s: expected a mapping with type and path, got %s", what, describe(v))
		return IngressSpec{}, false
	}
	spec := IngressSpec{Name: k.Value, Pos: yamlpos.At(p.file, k)}
	opts := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: v.Line, Column: v.Column}
	budget := maxOptionNodes
	var typ, path *yaml.Node
	for i := 0; i+1 < len(v.Content); i += 2 {
		key, val := deref(v.Content[i]), deref(v.Content[i+1])
		switch key.Value {
		case "type", "path":
			prev := &typ
			if key.Value == "path" {
				prev = &path
			}
			if *prev != nil {
				p.errorf(key, "%s: duplicate key %q", what, key.Value)
				continue
			}
			*prev = val
		default:
			c := copyNode(val, &budget)
			if c == nil {
				p.errorf(val, "%s: block too large (more than %d nodes once aliases are expanded)", what, maxOptionNodes)
				return IngressSpec{}, false
			}
			opts.Content = append(opts.Content, copyNode(key, &budget), c)
		}
	}
	ok := true
	if typ == nil {
		p.errorf(k, "%s: missing required key \"type\"", what)
		ok = false
	} else if spec.Type, ok = p.str(typ, what+": type"); ok && spec.Type == "" {
		p.errorf(typ, "%s: type must not be empty", what)
		ok = false
	}
	spec.Options = opts
	if path == nil {
		// Only adapters that serve no path (a connection of their own)
		// may leave it out; the router checks once it has built one.
		return spec, ok
	}
	var pathOK bool
	if spec.Path, pathOK = p.str(path, what+": path"); pathOK {
		if why := pathProblem(spec.Path); why != "" {
			p.errorf(path, "%s: path %q %s", what, spec.Path, why)
			pathOK = false
		} else if strings.HasSuffix(spec.Path, "/") {
			// Only a warning: the platform may well post to exactly that
			// URL, and refusing a file that works would keep it from
			// loading after an upgrade.
			p.set.warnings.Add(yamlpos.At(p.file, path), "warning: %s: path %q ends in /, which takes every path below it too (and redirects %s there); write %s unless that is meant",
				what, spec.Path, pathpkg.Clean(spec.Path), pathpkg.Clean(spec.Path))
		}
	}
	spec.Options = opts
	return spec, ok && pathOK
}

// pathProblem says why requests could never reach, or would reach more
// than, an ingress mounted at p, and what to write instead; "" when p is
// fine. http.ServeMux matches the path alone (a query never matches),
// answers a path that is not clean with a redirect to the cleaned one
// (which herald may serve itself), and takes / as every path nothing else
// serves. (A path ending in / takes the tree below it: a warning only.)
func pathProblem(p string) string {
	switch {
	case !strings.HasPrefix(p, "/"):
		return "must start with /"
	case strings.ContainsAny(p, "?#"):
		i := strings.IndexAny(p, "?#")
		return fmt.Sprintf("holds %q, which is never part of a request's path (it starts a query or fragment): every request would get 404; write %s", p[i:i+1], pathpkg.Clean(p[:i]))
	case p == "/":
		return "would catch every path herald does not serve itself; write a path of its own, such as /webhooks/<name>"
	case strings.Contains(p, "//"):
		return fmt.Sprintf("has an empty segment (//): requests to it are redirected to %s and never arrive; write %s", redirectTarget(p), pathpkg.Clean(p))
	case hasDotSegment(p):
		return fmt.Sprintf(`has a "." or ".." segment: requests to it are redirected to %s and never arrive; write the path without them`, redirectTarget(p))
	}
	return ""
}

// redirectTarget is where http.ServeMux sends a request for p: the
// cleaned path, keeping a trailing slash.
func redirectTarget(p string) string {
	c := pathpkg.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

func hasDotSegment(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// validInstanceName reports whether s is [a-z0-9_-]+: instance names end
// up in Event.Source, logs and metrics, where anything else is trouble.
func validInstanceName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// copyNode deep-copies n with aliases resolved, so adapters get a block of
// their own to decode; it returns nil when more than *budget nodes would
// be made.
func copyNode(n *yaml.Node, budget *int) *yaml.Node {
	n = deref(n)
	if n == nil {
		return nil
	}
	if *budget--; *budget < 0 {
		return nil
	}
	c := *n
	c.Anchor = ""
	if n.Kind == yaml.AliasNode { // an alias without a target; keep as is
		return &c
	}
	c.Content = nil
	if len(n.Content) > 0 {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, child := range n.Content {
			if c.Content[i] = copyNode(child, budget); c.Content[i] == nil {
				return nil
			}
		}
	}
	return &c
}
