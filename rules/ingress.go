package rules

import (
	"fmt"
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
	if spec.Path, pathOK = p.str(path, what+": path"); pathOK && !strings.HasPrefix(spec.Path, "/") {
		p.errorf(path, "%s: path %q must start with /", what, spec.Path)
		pathOK = false
	}
	spec.Options = opts
	return spec, ok && pathOK
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
