package rules

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/yamlpos"
)

// syntaxError turns a YAML syntax error into one with a column and, for
// the traps people fall into, the fix. yaml.v3 reports a line and a
// parser message ("did not find expected key"); the trap is recognised
// from the text of the line itself.
func syntaxError(file string, data []byte, err error) *yamlpos.Error {
	e := yamlpos.SyntaxErrorIn(file, data, err)
	lines := splitLines(data)
	if e.Pos.Line < 1 || e.Pos.Line > len(lines) {
		return e
	}
	if ln, col, fix, ok := charTrap(lines, e.Pos.Line, e.Msg); ok {
		out := *e
		if ln > 0 {
			out.Pos.Line, out.Pos.Col = ln, col
		}
		out.Msg += " (" + fix + ")"
		return &out
	}
	for i, ln := range []int{e.Pos.Line, e.Pos.Line - 1} { // yaml may blame the line after the trap
		for _, trap := range yamlTraps {
			if ln < 1 || i > 0 && trap.onlyHere {
				continue
			}
			if col, fix, ok := trap.match(lines, ln, e.Msg); ok {
				out := *e
				out.Pos.Line, out.Pos.Col = ln, col
				out.Msg += " (" + fix + ")"
				return &out
			}
		}
	}
	if e.Pos.Col == 0 {
		e.Pos.Col = indentOf(lines[e.Pos.Line-1]) + 1
	}
	return e
}

// A yamlTrap recognises a common mistake on line ln (1-based) from the
// line's text and the parser's message, and returns the column to point
// at and the fix. onlyHere traps are not tried on the line before the
// one yaml blamed.
type yamlTrap struct {
	match    func(lines []string, ln int, msg string) (col int, fix string, ok bool)
	onlyHere bool
}

var yamlTraps = []yamlTrap{
	{match: tabTrap}, {match: templateTrap}, {match: flowEnvTrap}, {match: quoteThenTextTrap},
	{match: unclosedFlowTrap}, {match: colonTrap, onlyHere: true}, {match: indentTrap, onlyHere: true},
}

// tabTrap: a tab in the indentation.
func tabTrap(lines []string, ln int, _ string) (int, string, bool) {
	l := lines[ln-1]
	lead := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
	if i := strings.IndexByte(lead, '\t'); i >= 0 {
		return i + 1, "YAML indentation must be spaces: replace the tab with spaces", true
	}
	return 0, "", false
}

// valueStart matches "key: " or "- key: " or "- " and captures the
// value's start.
var valueStart = regexp.MustCompile(`^\s*(?:-\s+)?(?:[^\s:#'"][^:#]*:\s+)?`)

// templateTrap: an unquoted value starting with {{, which YAML reads as a
// flow mapping; or an item of a […] list starting so (to: [a, {{ x }}]).
func templateTrap(lines []string, ln int, _ string) (int, string, bool) {
	l := lines[ln-1]
	m := valueStart.FindString(l)
	if strings.HasPrefix(l[len(m):], "{{") {
		return runeCol(l, len(m)), `a value starting with {{ must be quoted, or YAML reads it as a mapping: write text: "{{ … }} …"`, true
	}
	if rest := l[len(m):]; strings.HasPrefix(rest, "[") {
		if at := flowItemTemplate.FindStringSubmatchIndex(rest); at != nil {
			return runeCol(l, len(m)+at[2]), `a list item starting with {{ must be quoted, or YAML reads it as a mapping: write to: ["{{ … }}", "{{ … }}-chat"]`, true
		}
	}
	return 0, "", false
}

// flowItemTemplate finds an unquoted item starting with {{ in a […] list
// written on one line (items before it quoted or plain).
var flowItemTemplate = regexp.MustCompile(`^\[(?:\s*(?:"[^"]*"|'[^']*'|[^"'\[\],{]*)\s*,)*\s*(\{\{)`)

// flowEnvTrap: ${VAR} inside […] or {…}, where the braces are YAML's own.
func flowEnvTrap(lines []string, ln int, _ string) (int, string, bool) {
	l := lines[ln-1]
	env := strings.Index(l, "${")
	if env < 0 {
		return 0, "", false
	}
	open := strings.IndexAny(l, "[{")
	if open < 0 || open > env {
		return 0, "", false
	}
	return runeCol(l, env), `inside […] or {…} quote every value that uses ${VAR}: to: ["${ALERT_CODE:-alerts}", "${CHAT_CODE:-chat}"]`, true
}

// quoteThenText: a value that starts with a quoted string and goes on
// after the closing quote, such as an expression "Hi " + data.user.
func quoteThenTextTrap(lines []string, ln int, _ string) (int, string, bool) {
	l := lines[ln-1]
	m := valueStart.FindString(l)
	rest := l[len(m):]
	if rest == "" || (rest[0] != '"' && rest[0] != '\'') {
		return 0, "", false
	}
	end := closingQuote(rest)
	if end < 0 {
		return 0, "", false
	}
	after := strings.TrimSpace(rest[end+1:])
	if after == "" || strings.HasPrefix(after, "#") || strings.HasPrefix(after, ",") || strings.HasPrefix(after, "]") || strings.HasPrefix(after, "}") {
		return 0, "", false
	}
	return runeCol(l, len(m)+end+1), `the value starts with a quoted string and goes on after it: wrap the whole value in single quotes ('"Hi " + data.user'), or write a template: "Hi {{ user }}"`, true
}

// unclosedFlowTrap: a [ or { opened on the line and never closed.
func unclosedFlowTrap(lines []string, ln int, msg string) (int, string, bool) {
	if !strings.Contains(msg, "did not find expected ','") {
		return 0, "", false
	}
	l := lines[ln-1]
	var stack []int
	var quote byte
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[' || c == '{':
			stack = append(stack, i)
		case (c == ']' || c == '}') && len(stack) > 0:
			stack = stack[:len(stack)-1]
		case c == '#' && i > 0 && l[i-1] == ' ':
			i = len(l)
		}
	}
	if len(stack) == 0 {
		return 0, "", false
	}
	open := stack[len(stack)-1]
	closer := map[byte]string{'[': "]", '{': "}"}[l[open]]
	return runeCol(l, open), "the " + string(l[open]) + " opened here is never closed: end the list on the same line with " + closer, true
}

// colonTrap: a plain value holding ": ", which YAML reads as a second key.
func colonTrap(lines []string, ln int, msg string) (int, string, bool) {
	if !strings.Contains(msg, "mapping values are not allowed") {
		return 0, "", false
	}
	l := lines[ln-1]
	m := valueStart.FindString(l)
	i := strings.Index(l[len(m):], ": ")
	if m == "" || i < 0 {
		return 0, "", false
	}
	return runeCol(l, len(m)+i), `a plain value cannot hold ": ", which YAML reads as another key: quote the whole value in single quotes`, true
}

// closingQuote finds the quote that ends the quoted string s starts with.
func closingQuote(s string) int {
	q := s[0]
	for i := 1; i < len(s); i++ {
		switch {
		case q == '"' && s[i] == '\\':
			i++
		case q == '\'' && s[i] == '\'' && i+1 < len(s) && s[i+1] == '\'':
			i++
		case s[i] == q:
			return i
		}
	}
	return -1
}

// indentMessages are the parser messages a misindented line gives; any
// other (a bad escape, a stray character) is about what the line holds,
// and an indentation hint would send the reader to the wrong fix.
var indentMessages = []string{
	"did not find expected key", "mapping values are not allowed", "did not find expected '-' indicator",
	"block sequence entries are not allowed", "could not find expected ':'",
}

// indentTrap: a key whose indentation lines up with no block above it.
func indentTrap(lines []string, ln int, msg string) (int, string, bool) {
	l := lines[ln-1]
	if !slices.ContainsFunc(indentMessages, func(m string) bool { return strings.Contains(msg, m) }) ||
		strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
		return 0, "", false
	}
	ind := indentOf(l)
	item := strings.HasPrefix(strings.TrimSpace(l), "- ")
	// The columns the line could belong to: the key columns of the
	// blocks that enclose it, walking up (and, for a list item, the
	// columns of the items above).
	type block struct{ col, line int }
	var open []block
	limit := 1 << 30
	for i := ln - 2; i >= 0 && limit > 0; i-- {
		t := strings.TrimSpace(lines[i])
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		c := indentOf(lines[i])
		key := c
		if strings.HasPrefix(t, "- ") {
			key = c + 2 + indentOf(t[2:])
			if item && c <= limit {
				open = append(open, block{c, i + 1})
			}
		}
		if key < limit {
			open = append(open, block{key, i + 1})
			limit = c
		}
	}
	best := block{-1, 0}
	for _, b := range open {
		if b.col == ind {
			return 0, "", false
		}
		if best.col < 0 || abs(b.col-ind) < abs(best.col-ind) {
			best = b
		}
	}
	if best.col < 0 {
		return 0, "", false
	}
	return ind + 1, "indented by " + strconv.Itoa(ind) + " spaces, which lines up with nothing above: indent it by " +
		strconv.Itoa(best.col) + " like line " + strconv.Itoa(best.line), true
}

func indentOf(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

func runeCol(s string, byteOff int) int { return utf8.RuneCountInString(s[:byteOff]) + 1 }

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
