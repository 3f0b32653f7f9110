package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"go.yaml.in/yaml/v3"
)

// isText reports whether set value n is written as text: in double
// quotes, which YAML makes a string and a streamer means as words
// (text: "Thanks for the donation!"), or with {{ placeholders }}. Other
// values are expressions, and !expr makes any value one.
func isText(n *yaml.Node, src string) bool {
	return n.Tag != exprTag && (n.Style&yaml.DoubleQuotedStyle != 0 || isTemplate(src))
}

// wasExpression warns about a double-quoted set value without {{ that is
// text now but compiles as an expression, which it was before double
// quotes made text: a number or boolean ("5", "true"), a quoted string
// ("'hi'"), an event field's name ("type") or an expression that reads
// the event or calls a function ("float(data.amount)"). Every reload logs
// it and herald check prints it, with what to write for the old meaning.
// Ordinary text ("Thanks for the donation!", "now", "max") compiles as no
// such thing and is left alone.
func (p *parser) wasExpression(v *yaml.Node, key, src, what string) {
	if isTemplate(src) {
		return
	}
	prog, err := expr.Compile(src, expr.Env(envTypes), expr.Optimize(false))
	if err != nil {
		return
	}
	raw := p.written(v, src)
	bare := raw // the value as written without its quotes, for the fix
	if strings.Contains(raw, `\`) {
		bare = src
	}
	quoted := `"` + raw + `"`
	pos := p.span(v).start
	warn := func(format string, args ...any) {
		p.set.warnings.Add(pos, "warning: %s: %s "+format, append([]any{what, quoted}, args...)...)
	}
	const why = "now (double quotes make text)"
	n := prog.Node()
	if u, ok := n.(*ast.UnaryNode); ok && (u.Operator == "-" || u.Operator == "+") {
		if _, num := u.Node.(*ast.IntegerNode); num {
			n = u.Node
		} else if _, num := u.Node.(*ast.FloatNode); num {
			n = u.Node
		}
	}
	switch n := n.(type) {
	case *ast.IntegerNode, *ast.FloatNode:
		warn("is the text %s %s; for the number write %s: %s", strconv.Quote(src), why, key, strings.TrimSpace(bare))
	case *ast.BoolNode:
		warn("is the text %s %s; for the boolean write %s: %s", strconv.Quote(src), why, key, strings.TrimSpace(bare))
	case *ast.NilNode:
		warn("is the text %s %s; for no value write %s: nil", strconv.Quote(src), why, key)
	case *ast.StringNode:
		warn("is the text %s with its quotes %s; for %s alone write %s: %s", src, why, n.Value, key, strconv.Quote(n.Value))
	case *ast.IdentifierNode:
		if _, field := envTypes[n.Value]; !field {
			if n.Value == "$env" {
				warn("is text %s; for the expression, %s", why, exprFix(key, bare))
			}
			return // a function's bare name, such as now or max: a word
		}
		msg := fmt.Sprintf("is the word %s %s; for the event's %s", n.Value, why, n.Value)
		if n.Value == "code" {
			msg += ", a secret,"
		}
		msg += fmt.Sprintf(" write %s: %s (no quotes)", key, n.Value)
		if slices.Contains(eventFields, n.Value) {
			msg += fmt.Sprintf(", or {{ event.%s }} inside text", n.Value)
		}
		warn("%s", msg)
	default:
		if readsEvent(prog.Node()) {
			warn("is text %s; for the expression, %s", why, exprFix(key, bare))
		}
	}
}

// readsEvent reports whether an expression reads the event or calls a
// function: one that computes nothing from constants alone ("1/2",
// "2024-01-01") reads as text well enough to leave unwarned.
func readsEvent(n ast.Node) bool {
	v := &eventReader{}
	ast.Walk(&n, v)
	return v.found
}

type eventReader struct{ found bool }

func (r *eventReader) Visit(n *ast.Node) {
	switch n := (*n).(type) {
	case *ast.IdentifierNode:
		if _, field := envTypes[n.Value]; field || n.Value == "$env" {
			r.found = true
		}
	case *ast.CallNode, *ast.BuiltinNode:
		r.found = true
	}
}

// exprFix is how to write expression src as set field key: bare when YAML
// reads it back unchanged, in single quotes otherwise.
func exprFix(key, src string) string {
	if plainSafe(src) {
		return fmt.Sprintf("drop the quotes: %s: %s", key, src)
	}
	return fmt.Sprintf("use single quotes: %s: '%s'", key, strings.ReplaceAll(src, "'", "''"))
}

// plainSafe reports whether s, written unquoted as a value in block or
// flow style, reads back as s: it starts with no YAML indicator and holds
// no ": ", " #", flow punctuation or line break.
func plainSafe(s string) bool {
	if s == "" || s != strings.TrimSpace(s) || strings.ContainsAny(s, "\n\t,[]{}") ||
		strings.Contains(s, ": ") || strings.Contains(s, " #") || strings.HasSuffix(s, ":") {
		return false
	}
	return !strings.ContainsRune("-?:,[]{}#&*!|>'\"%@`", rune(s[0]))
}

// written is double-quoted scalar v as the file spells it between its
// quotes (${VAR} unexpanded, escapes kept), or src quoted again when it
// spans lines.
func (p *parser) written(v *yaml.Node, src string) string {
	again := strings.Trim(strconv.Quote(src), `"`)
	if v.Line < 1 || v.Line > len(p.lines) || v.Column < 1 {
		return again
	}
	line := []rune(p.lines[v.Line-1])
	i := skipProperties(line, v.Column-1)
	if i >= len(line) || line[i] != '"' {
		return again
	}
	for j := i + 1; j < len(line); j++ {
		switch line[j] {
		case '\\':
			j++
		case '"':
			return string(line[i+1 : j])
		}
	}
	return again
}

// proseHint is what a set value that is no expression adds to its error
// when it reads as words (Thanks for the follow, 'Welcome!'): the same
// words in double quotes, which make text.
func proseHint(v *yaml.Node, key, src string) string {
	switch {
	case v.Tag == exprTag || v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return "" // asked for an expression
	case strings.ContainsAny(src, `"'`+"\n") || strings.Contains(src, "data.") || strings.ContainsAny(src, "()[]"):
		return "" // a broken expression, not prose
	}
	how := "unquoted"
	if v.Style&yaml.SingleQuotedStyle != 0 {
		how = "in single quotes"
	}
	return fmt.Sprintf(" (%s, a set value is an expression; for text write it in double quotes: %s: %s)", how, key, strconv.Quote(src))
}
