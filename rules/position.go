package rules

import (
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/internal/yamlpos"
)

// span maps rune offsets within a scalar's value (what expr reports) back
// to file positions. Where the value and the file text cannot be lined up
// (escapes, flow scalars folded over lines, ${ENV} expansion) it has no
// chunks and every offset maps to the scalar's start.
type span struct {
	start  yamlpos.Pos
	chunks []chunk
	lines  []string // the file's lines, for clamping columns
}

// chunk says that the value rune at off sits at line:col in the file and
// the following runes run on along that line.
type chunk struct{ off, line, col int }

// at returns the file position of value rune offset off.
func (s span) at(off int) yamlpos.Pos {
	var c *chunk
	for i := range s.chunks {
		if s.chunks[i].off > off {
			break
		}
		c = &s.chunks[i]
	}
	if c == nil {
		return s.start
	}
	p := yamlpos.Pos{File: s.start.File, Line: c.line, Col: c.col + off - c.off}
	if p.Line <= len(s.lines) {
		p.Col = min(p.Col, utf8.RuneCountInString(s.lines[p.Line-1])+1)
	}
	return p
}

// splitLines splits src into lines without their terminators.
func splitLines(src []byte) []string {
	lines := strings.Split(string(src), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// spanOf builds the span of scalar n. exact is false when the value was
// rewritten (${ENV}) and cannot be lined up with the file.
func spanOf(file string, lines []string, n *yaml.Node, exact bool) span {
	s := span{start: yamlpos.At(file, n), lines: lines}
	if !exact || n.Line < 1 || n.Line > len(lines) || n.Column < 1 {
		return s
	}
	line := []rune(lines[n.Line-1])
	col := skipProperties(line, n.Column-1) // 0-based index of the value's first rune
	s.start.Col = col + 1
	switch n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		s.chunks = blockChunks(lines, n.Line, n.Value)
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		col++
		fallthrough
	default:
		v := []rune(n.Value)
		if col+len(v) <= len(line) && string(line[col:col+len(v)]) == n.Value {
			s.chunks = []chunk{{off: 0, line: n.Line, col: col + 1}}
		}
	}
	return s
}

// skipProperties steps over a node's tag and anchor (`!expr `, `&a `),
// which yaml counts as the node's start.
func skipProperties(line []rune, i int) int {
	for i < len(line) && (line[i] == '!' || line[i] == '&') {
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			i++
		}
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
	}
	return min(i, len(line))
}

// blockChunks lines up the content lines of a | or > block that starts
// after header line hdr with its value: both keep each line's text, they
// differ only in the separators, so finding each line's text in order is
// enough.
func blockChunks(lines []string, hdr int, value string) []chunk {
	var out []chunk
	indent := -1
	cursor := 0
	for ln := hdr + 1; ln <= len(lines); ln++ {
		raw := lines[ln-1]
		text := strings.TrimLeft(raw, " ")
		if strings.TrimSpace(text) == "" {
			continue
		}
		ind := len(raw) - len(text)
		if indent < 0 {
			indent = ind
		}
		if ind < indent {
			break
		}
		content := strings.TrimRight(raw[indent:], " \t")
		i := strings.Index(value[cursor:], content)
		if i < 0 {
			break
		}
		out = append(out, chunk{off: utf8.RuneCountInString(value[:cursor+i]), line: ln, col: indent + 1})
		cursor += i + len(content)
	}
	return out
}
