package rules

import (
	"bytes"
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/internal/yamlpos"
)

// Version is the only rules file format version this package reads.
const Version = 1

// Parse loads and compiles a rules file: every expression is compiled
// once here, every ${VAR} expanded, every name checked. Every error is a
// *LoadError holding all the problems found, sorted by position (errors.As
// reads it as a yamlpos.List), and the warnings found with them.
func Parse(file string, data []byte, opts Options) (*Set, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	p := &parser{file: file, lines: splitLines(data), getenv: getenv, set: &Set{}, names: map[string]bool{}}
	p.parse(data)
	if len(p.errs) == 0 {
		p.checkShapes(opts)
	}
	if len(p.errs) > 0 {
		p.clamp()
		return nil, &LoadError{Errors: p.errs.Sort(), Warnings: p.set.warnings.Sort()}
	}
	return p.set, nil
}

// parser walks the document node by node, so that every problem is
// reported at its own key or value (see ARCHITECTURE §3.5).
type parser struct {
	file     string
	lines    []string
	getenv   func(string) (string, bool)
	expanded map[*yaml.Node]bool
	names    map[string]bool // of set.names
	errs     yamlpos.List
	set      *Set
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs.Add(yamlpos.At(p.file, n), format, args...)
}

func (p *parser) parse(data []byte) {
	if e := encodingError(p.file, data); e != nil {
		p.errs = append(p.errs, e)
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errs.Add(yamlpos.Pos{File: p.file, Line: 1, Col: 1}, "empty rules file (start with version: %d)", Version)
		} else {
			p.errs = append(p.errs, syntaxError(p.file, data, err))
		}
		return
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		p.errs = append(p.errs, syntaxError(p.file, data, err))
		return
	default:
		p.errorf(&extra, "only one YAML document is allowed in a rules file")
	}
	p.checkTags(&doc)
	if len(p.errs) > 0 {
		return // an unknown tag has eaten part of a value: the rest would mislead
	}
	p.expanded = expandTree(p.file, &doc, p.getenv, &p.errs)
	if len(doc.Content) == 0 {
		p.errs.Add(yamlpos.Pos{File: p.file, Line: 1, Col: 1}, "empty rules file (start with version: %d)", Version)
		return
	}
	p.root(deref(doc.Content[0]))
}

func (p *parser) root(n *yaml.Node) {
	f := p.fields(n, "rules file", []string{"version", "ingress", "rules", "tests", "journal"}, "version")
	if f == nil {
		return
	}
	if v := f["version"]; v != nil {
		switch {
		case v.Kind != yaml.ScalarNode:
			p.errorf(v, "version: expected a number, got %s (write version: %d)", describe(v), Version)
		case v.Value != strconv.Itoa(Version):
			p.errorf(v, "unsupported version %q (this herald reads version %d)", v.Value, Version)
		}
	}
	if n := f["ingress"]; n != nil {
		p.set.ingress = p.ingressSection(n)
	}
	if n := f["rules"]; n != nil {
		p.rulesSection(n)
	}
	if n := f["tests"]; n != nil {
		p.testsSection(n)
	}
	if n := f["journal"]; n != nil {
		p.journalSection(n)
	}
}

// fields checks mapping n against its known keys, reporting unknown,
// duplicate and missing required keys, and returns the values by key. It
// returns nil when n is not a mapping.
func (p *parser) fields(n *yaml.Node, what string, known []string, required ...string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: expected a mapping, got %s", what, describe(n))
		return nil
	}
	out := map[string]*yaml.Node{}
	keys := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		switch {
		case keys[k.Value] != nil:
			p.errorf(k, "%s: duplicate key %q (first at %s)", what, k.Value, yamlpos.At(p.file, keys[k.Value]))
		case !slices.Contains(known, k.Value):
			p.errorf(k, "%s: unknown key %q (known: %s)", what, k.Value, strings.Join(known, ", "))
		default:
			out[k.Value] = v
		}
		if keys[k.Value] == nil {
			keys[k.Value] = k
		}
	}
	for _, r := range required {
		if out[r] == nil && keys[r] == nil {
			p.errorf(n, "%s: missing required key %q", what, r)
		}
	}
	return out
}

// str returns scalar n's value, reporting anything else.
func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	if unquotedTemplate(n) {
		p.errorf(n, `%s: a value starting with {{ must be quoted, or YAML reads it as a mapping: write "{{ … }}" in double quotes`, what)
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "%s: expected a string, got %s", what, describe(n))
		return "", false
	}
	if n.ShortTag() == "!!null" {
		p.errorf(n, "%s: must not be empty", what)
		return "", false
	}
	return n.Value, true
}

// boolean returns scalar n as a bool, reporting anything else.
func (p *parser) boolean(n *yaml.Node, what string) bool {
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		p.errorf(n, "%s: expected true or false, got %s", what, describe(n))
	}
	return b
}

// span returns the position map of scalar n.
func (p *parser) span(n *yaml.Node) span {
	return spanOf(p.file, p.lines, n, !p.expanded[n])
}

// clamp keeps every position inside the file: yaml reports some errors at
// the end of input one line past the last.
func (p *parser) clamp() {
	for _, e := range p.errs {
		if e.Pos.Line > len(p.lines) {
			e.Pos.Line, e.Pos.Col = len(p.lines), 0
		}
		if e.Pos.Line < 1 {
			e.Pos.Line, e.Pos.Col = 1, 0
		}
		if n := utf8.RuneCountInString(p.lines[e.Pos.Line-1]) + 1; e.Pos.Col > n {
			e.Pos.Col = n
		}
	}
}

// unquotedTemplate reports whether n is what YAML makes of an unquoted
// "{{ field }}": a flow mapping whose only key is a flow mapping.
func unquotedTemplate(n *yaml.Node) bool {
	return n.Kind == yaml.MappingNode && n.Style == yaml.FlowStyle && len(n.Content) == 2 &&
		n.Content[0].Kind == yaml.MappingNode && n.Content[0].Style == yaml.FlowStyle
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// describe names a node for error messages.
func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return "nothing"
	}
	return yamlpos.KindName(n)
}
