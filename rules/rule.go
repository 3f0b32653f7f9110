package rules

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/yamlpos"
)

// rule is one compiled entry of the rules: list.
type rule struct {
	name string
	pos  yamlpos.Pos
	when *program // nil: matches everything
	emit target
	to   []target // nil: the event's own code
	set  []setField
	drop bool
	cont bool
	// pendingWindow is the rule's own pending_window (0: its alerts are
	// never pending), when pendingSet; the journal: section's otherwise.
	pendingWindow time.Duration
	pendingSet    bool
}

// target is a literal string, a template, or an expression yielding a
// string (or, for to, a list of them).
type target struct {
	pos  yamlpos.Pos
	lit  string
	tmpl *template
	prog *program
}

// setField is one payload field: a template (any double-quoted value, or
// one with {{) or an expression.
type setField struct {
	key  string
	tmpl *template
	prog *program
}

var ruleKeys = []string{"name", "when", "emit", "to", "set", "drop", "continue", "pending_window"}

func (p *parser) rulesSection(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "rules: expected a list of rules, got %s", describe(n))
		return
	}
	names := map[string]yamlpos.Pos{}
	for i, item := range n.Content {
		r := p.rule(deref(item), i)
		if r == nil {
			continue
		}
		if first, dup := names[r.name]; dup {
			p.errs.Add(p.ownPos(item, r.pos), "duplicate rule name %q (first at %s)", r.name, first)
			continue
		}
		names[r.name] = r.pos
		p.set.rules = append(p.set.rules, r)
		if r.pendingSet {
			if p.set.journal.RulePending == nil {
				p.set.journal.RulePending = map[string]time.Duration{}
			}
			p.set.journal.RulePending[r.name] = r.pendingWindow
		}
	}
}

func (p *parser) rule(n *yaml.Node, i int) *rule {
	f := p.fields(n, ruleLabel(n, i), ruleKeys, "name")
	if f == nil || f["name"] == nil {
		return nil
	}
	name, ok := p.str(f["name"], fmt.Sprintf("rule %d: name", i+1))
	if !ok {
		return nil
	}
	if name == "" {
		p.errorf(f["name"], "rule %d: name must not be empty", i+1)
		return nil
	}
	r := &rule{name: name, pos: yamlpos.At(p.file, f["name"])}
	what := fmt.Sprintf("rule %q", name)
	if w := f["when"]; w != nil {
		if src, ok := p.str(w, what+": when"); ok {
			r.when = p.compile(w, src, what+": when", true)
		}
	}
	if d := f["drop"]; d != nil {
		r.drop = p.boolean(d, what+": drop")
	}
	if c := f["continue"]; c != nil {
		r.cont = p.boolean(c, what+": continue")
	}
	if w := f["pending_window"]; w != nil {
		r.pendingWindow, r.pendingSet = p.duration(w, what+": pending_window", true), true
	}
	if r.drop {
		for _, k := range []string{"emit", "to", "set", "continue", "pending_window"} {
			if f[k] != nil {
				p.errorf(f[k], "%s: %s has no effect with drop: true (a dropping rule delivers nothing and ends routing)", what, k)
			}
		}
		return r
	}
	if e := f["emit"]; e != nil {
		r.emit = p.target(e, what+": emit")
		if err := herald.CheckName(r.emit.lit); r.emit.lit != "" && err != nil {
			p.errorf(e, "%s: emit: %v", what, err)
		}
	}
	if t := f["to"]; t != nil {
		r.to = p.targets(t, what+": to")
	}
	if s := f["set"]; s != nil {
		r.set = p.setFields(s, what+": set")
	}
	return r
}

// ownPos is where item is written: an alias (- *r) shares its anchor's
// nodes, so an error about the repeat must point at the alias, not at
// the anchor's pos.
func (p *parser) ownPos(item *yaml.Node, pos yamlpos.Pos) yamlpos.Pos {
	if item.Kind == yaml.AliasNode {
		return yamlpos.At(p.file, item)
	}
	return pos
}

// ruleLabel names a rule in messages by its name when it has one, by its
// place in the list otherwise.
func ruleLabel(n *yaml.Node, i int) string {
	if n.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(n.Content); j += 2 {
			if v := deref(n.Content[j+1]); n.Content[j].Value == "name" && v.Kind == yaml.ScalarNode && v.Value != "" {
				return fmt.Sprintf("rule %q", v.Value)
			}
		}
	}
	return fmt.Sprintf("rule %d (it has no name)", i+1)
}

// compile compiles the expression held by scalar n (src is its value).
func (p *parser) compile(n *yaml.Node, src, what string, asBool bool) *program {
	sp := p.span(n)
	if src == "" {
		p.errs.Add(sp.start, "%s: empty expression", what)
		return nil
	}
	prog, err := compileExpr(src, what, sp, asBool)
	if err != nil {
		p.errs = append(p.errs, err.(*yamlpos.Error))
		return nil
	}
	for _, name := range prog.names {
		if !p.names[name] {
			p.names[name] = true
			p.set.names = append(p.set.names, name)
		}
	}
	return prog
}

// template compiles the template held by scalar n (src is its value).
func (p *parser) template(n *yaml.Node, src, what string) *template {
	t, err := compileTemplate(src, what, p.span(n))
	if err != nil {
		p.errs = append(p.errs, err)
		return nil
	}
	return t
}

// target reads an emit value or one to item: a literal, or !expr.
func (p *parser) target(n *yaml.Node, what string) target {
	src, ok := p.str(n, what)
	if !ok {
		return target{}
	}
	pos := yamlpos.At(p.file, n)
	if n.Tag != exprTag {
		if src == "" {
			p.errorf(n, "%s: must not be empty", what)
		}
		if isTemplate(src) {
			return target{pos: pos, tmpl: p.template(n, src, what)}
		}
		return target{pos: pos, lit: src}
	}
	prog := p.compile(n, src, what, false)
	if prog != nil {
		switch k := prog.resultKind(); k {
		case reflect.String, reflect.Interface, reflect.Slice:
		default:
			p.errs.Add(prog.span.start, "%s: expression yields %s, want a string", what, k)
		}
	}
	return target{pos: pos, prog: prog}
}

func (p *parser) targets(n *yaml.Node, what string) []target {
	if n.Kind == yaml.ScalarNode || unquotedTemplate(n) {
		return []target{p.target(n, what)}
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s: expected a room or a list of rooms, got %s", what, describe(n))
		return nil
	}
	if len(n.Content) == 0 {
		p.errorf(n, "%s: empty list (leave to out to use the event's own code, or use drop: true)", what)
		return nil
	}
	out := make([]target, 0, len(n.Content))
	for _, item := range n.Content {
		out = append(out, p.target(deref(item), what))
	}
	return out
}

func (p *parser) setFields(n *yaml.Node, what string) []setField {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: expected a mapping of field: expression, got %s", what, describe(n))
		return nil
	}
	var out []setField
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if !p.fieldName(k, what) {
			continue
		}
		if first := seen[k.Value]; first != nil {
			p.errorf(k, "%s: duplicate field %q (first at %s)", what, k.Value, yamlpos.At(p.file, first))
			continue
		}
		seen[k.Value] = k
		fw := what + "." + k.Value
		src, ok := p.str(v, fw)
		if !ok {
			continue
		}
		if isText(v, src) {
			p.wasExpression(v, k.Value, src, fw)
			out = append(out, setField{key: k.Value, tmpl: p.template(v, src, fw)})
			continue
		}
		n := len(p.errs)
		prog := p.compile(v, src, fw, false)
		if prog == nil && len(p.errs) > n && !strings.Contains(p.errs[len(p.errs)-1].Msg, "mismatched types") {
			// A type error is an expression that parsed: what it meant
			// to be was an expression, not words.
			p.errs[len(p.errs)-1].Msg += proseHint(v, k.Value, src)
		}
		out = append(out, setField{key: k.Value, prog: prog})
	}
	return out
}

// fieldName reports a set key that cannot name a payload field; an empty
// one would otherwise surface as a baffling "set.: …" error on its value.
func (p *parser) fieldName(k *yaml.Node, what string) bool {
	switch {
	case k.Kind != yaml.ScalarNode:
		p.errorf(k, "%s: a field name must be text, got %s", what, describe(k))
	case k.Value == "":
		p.errorf(k, "%s: empty field name (write the payload field's name before the colon)", what)
	default:
		return true
	}
	return false
}
