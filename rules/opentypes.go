package rules

import (
	"maps"
	"regexp"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/spell"
)

// instance is an ingress instance as the shape checks see it.
type instance struct {
	typ string
	// declared lists the event types the file subscribes it to: such a
	// type arrives whether or not herald has a shape for it.
	declared []string
	// options is the instance's block (nil for a built-in one).
	options *yaml.Node
}

// instances lists the file's ingress instances and the built-in ones by
// name.
func (p *parser) instances(builtin map[string]string) map[string]instance {
	out := map[string]instance{}
	for name, typ := range builtin {
		out[name] = instance{typ: typ}
	}
	for _, in := range p.set.ingress {
		out[in.Name] = instance{typ: in.Type, declared: declaredTypes(in.Options), options: in.Options}
	}
	return out
}

func instanceNames(instances map[string]instance) []string {
	return slices.Sorted(maps.Keys(instances))
}

// declaredTypes reads an ingress block's subscriptions list: type names,
// or {type: …} mappings for types the adapter needs told more about.
func declaredTypes(opts *yaml.Node) []string {
	subs := mappingValue(opts, "subscriptions")
	if subs == nil || subs.Kind != yaml.SequenceNode {
		return nil
	}
	var out []string
	for _, item := range subs.Content {
		item = deref(item)
		if item.Kind == yaml.MappingNode {
			item = mappingValue(item, "type")
		}
		if item != nil && item.Kind == yaml.ScalarNode {
			out = append(out, item.Value)
		}
	}
	return out
}

// mappingValue returns the value of key in mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if deref(n.Content[i]).Value == key {
			return deref(n.Content[i+1])
		}
	}
	return nil
}

// maySend reports whether in may send typ although no shape lists it:
// the file subscribes to it, or open (Options.OpenTypes) matches it.
func (in instance) maySend(typ string, open *regexp.Regexp) bool {
	return slices.Contains(in.declared, typ) || open != nil && open.MatchString(typ)
}

// unshapedTypes reports whether a type the when names is one instance name
// may send with no shape of herald's: the rule is then not checked (its
// events may have any fields). A likely typo of a known type is warned
// about rather than refused. A streamer who mistypes a type loses one
// rule, and check and the reload log say so; refusing instead would keep
// the whole file out over a type Twitch may well send, because herald's
// table lags behind EventSub. A type the file subscribes to is never
// doubted.
func (p *parser) unshapedTypes(r *rule, name string, in instance, shapes []herald.Shape, open *regexp.Regexp, types []string) bool {
	var known []string
	for _, sh := range shapes {
		if sh.Type == "" {
			return false // it sends every type
		}
		known = append(known, sh.Type)
	}
	unshaped := false
	for _, t := range types {
		if slices.Contains(known, t) || !in.maySend(t, open) {
			continue
		}
		unshaped = true
		if near := spell.Typo(t, known); near != "" && !slices.Contains(in.declared, t) {
			p.set.warnings.Add(r.when.span.start, "warning: rule %q: when: ingress %q (%s) has no type %q that herald knows of; did you mean %q?",
				r.name, name, in.typ, t, near)
		}
	}
	return unshaped
}
