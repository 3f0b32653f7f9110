package rules

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/internal/spell"
)

// knownTags are the tags a rules file may carry: YAML's own, which yaml.v3
// resolves, and herald's !expr.
var knownTags = []string{"!!str", "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq", "!!timestamp", "!!binary", "!!merge", exprTag}

// checkTags refuses every tag herald does not define. YAML reads a value
// starting with ! as a tag and drops it from the value, so an expression
// such as !data.is_gift would otherwise load as an empty when, and a
// misspelt !exp would turn an expression into a literal without a word.
func (p *parser) checkTags(doc *yaml.Node) {
	var walk func(n *yaml.Node, where, rule string)
	walk = func(n *yaml.Node, where, rule string) {
		if n.Tag != "" && !slices.Contains(knownTags, n.ShortTag()) {
			p.badTag(n, where, rule)
		}
		for i, c := range n.Content {
			switch {
			case n.Kind == yaml.DocumentNode:
				walk(c, "root", "")
			case n.Kind == yaml.SequenceNode && where == "rules":
				walk(c, "rule", ruleLabel(deref(c), i))
			case n.Kind == yaml.MappingNode && i%2 == 1:
				walk(c, within(where, n.Content[i-1].Value), rule)
			default:
				walk(c, "", "")
			}
		}
	}
	walk(doc, "", "")
}

// within says where the value of key in mapping where sits, as far as
// tags care: in an expression (a when, a set field), or on the way to one.
func within(where, key string) string {
	switch {
	case where == "root" && key == "rules":
		return "rules"
	case where == "rule" && (key == "when" || key == "set"):
		return key
	case where == "set":
		return "set." + key
	}
	return ""
}

// badTag reports the unknown tag on n; where says where n sits (see
// within), in the rule labelled rule.
func (p *parser) badTag(n *yaml.Node, where, rule string) {
	if where != "when" && !strings.HasPrefix(where, "set.") || n.Kind != yaml.ScalarNode {
		hint := ""
		if spell.Distance(n.Tag, exprTag) <= 2 {
			hint = " (did you mean " + exprTag + "?)"
		}
		p.errorf(n, "unknown YAML tag %q%s: herald knows only %s, before an emit, to or set expression; quote a value that starts with !", n.Tag, hint, exprTag)
		return
	}
	src := strings.TrimSpace(n.Tag + " " + n.Value)
	p.errorf(n, `%s: %s starts with "!", which YAML reads as a tag: quote the expression ('%s')`, rule, where, strings.ReplaceAll(src, "'", "''"))
}
