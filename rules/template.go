package rules

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/yamlpos"
)

// A template is text with {{ placeholders }}, the form for alert text:
//
//	text: "{{ user_name }} is raiding with {{ viewers }} viewers!"
//	text: "{{ from_name | default \"someone\" }} sent {{ amount | number 2 }}"
//
// A placeholder names a data field (nested fields with dots:
// reward.title, choices.0.title; data.x works too), or an event field
// as event.source, event.type, event.code or event.id. Filters follow
// bars: upper, lower, default "text", number (thousands separators) and
// number N (N decimals). Values print the way a person writes them:
// 5 not 5.0, 1000000 not 1e+06, a missing field as nothing.
//
// A template cannot fail on an event, which is why it is the form for
// text: expressions stay for logic.
type template struct {
	src   string
	parts []tmplPart
	span  span // where the template sits in the file
}

// tmplPart is a literal run of text (path == nil) or a placeholder.
type tmplPart struct {
	lit     string
	event   string   // "source", "type", "code", "id": an event field
	path    []string // a data field, nested
	filters []tmplFilter
	off     int // rune offset of the placeholder in the template
	nameOff int // rune offset of the field name
}

type tmplFilter struct {
	name string
	arg  string // default's text
	n    int    // number's decimals; -1 for thousands only
}

var tmplFilters = []string{"upper", "lower", "default", "number"}

// eventFields are the event fields a placeholder may name as event.<name>.
var eventFields = []string{"source", "type", "code", "id"}

// isTemplate reports whether a value is written as a template.
func isTemplate(s string) bool { return strings.Contains(s, "{{") }

// tmplError is a template syntax error at rune offset off of the text.
type tmplError struct {
	off int
	msg string
}

func (e *tmplError) Error() string { return e.msg }

// parseTemplate compiles src; errors carry the rune offset they concern.
func parseTemplate(src string) (*template, error) {
	t := &template{src: src}
	rest := src
	base := 0 // byte offset of rest in src
	for rest != "" {
		i := strings.Index(rest, "{{")
		if i < 0 {
			t.parts = append(t.parts, tmplPart{lit: rest})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, tmplPart{lit: rest[:i]})
		}
		open := base + i
		end := strings.Index(rest[i+2:], "}}")
		if end < 0 {
			return nil, &tmplError{off: runeOff(src, open), msg: `unclosed {{ (every {{ needs its }})`}
		}
		inner := rest[i+2 : i+2+end]
		part, err := parsePlaceholder(inner)
		if err != nil {
			return nil, &tmplError{off: runeOff(src, open), msg: err.Error()}
		}
		part.off = runeOff(src, open)
		part.nameOff = runeOff(src, open+2+len(inner)-len(strings.TrimLeft(inner, " ")))
		t.parts = append(t.parts, part)
		base += i + 2 + end + 2
		rest = rest[i+2+end+2:]
	}
	return t, nil
}

func runeOff(s string, byteOff int) int { return utf8.RuneCountInString(s[:byteOff]) }

func parsePlaceholder(inner string) (tmplPart, error) {
	segs := splitFilters(inner)
	name := strings.TrimSpace(segs[0])
	if name == "" {
		return tmplPart{}, fmt.Errorf("empty {{ }}: name a field, e.g. {{ user_name }}")
	}
	path := strings.Split(strings.TrimPrefix(name, "data."), ".")
	for _, s := range path {
		if !validSegment(s) {
			return tmplPart{}, fmt.Errorf("{{ %s }}: %q is not a field name (letters, digits, _ and - joined by dots; a template holds fields, not expressions: use !expr or a set expression for logic)", name, name)
		}
	}
	var part tmplPart
	if f, ok := strings.CutPrefix(name, "event."); ok {
		if !slices.Contains(eventFields, f) {
			return tmplPart{}, fmt.Errorf("{{ %s }}: unknown event field %q (known: event.%s)", name, f, strings.Join(eventFields, ", event."))
		}
		part.event = f
	} else {
		part.path = path
	}
	for _, seg := range segs[1:] {
		f, err := parseFilter(strings.TrimSpace(seg))
		if err != nil {
			return tmplPart{}, fmt.Errorf("{{ %s }}: %v", strings.TrimSpace(inner), err)
		}
		part.filters = append(part.filters, f)
	}
	return part, nil
}

// splitFilters splits at bars outside double quotes.
func splitFilters(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case '\\':
			i++
		case '|':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func parseFilter(s string) (tmplFilter, error) {
	name, arg, _ := strings.Cut(s, " ")
	arg = strings.TrimSpace(arg)
	f := tmplFilter{name: name, n: -1}
	switch name {
	case "upper", "lower":
		if arg != "" {
			return f, fmt.Errorf("filter %s takes no argument", name)
		}
	case "default":
		text, err := strconv.Unquote(arg)
		if err != nil || !strings.HasPrefix(arg, `"`) {
			return f, fmt.Errorf(`filter default needs a quoted text: default "someone"`)
		}
		f.arg = text
	case "number":
		if arg != "" {
			n, err := strconv.Atoi(arg)
			if err != nil || n < 0 || n > 10 {
				return f, fmt.Errorf("filter number takes a count of decimals from 0 to 10, got %q", arg)
			}
			f.n = n
		}
	case "":
		return f, fmt.Errorf("empty filter after |")
	default:
		msg := fmt.Sprintf("unknown filter %q (known: %s)", name, strings.Join(tmplFilters, ", "))
		if near := closest(name, tmplFilters); near != "" {
			msg += fmt.Sprintf("; did you mean %s?", near)
		}
		return f, fmt.Errorf("%s", msg)
	}
	return f, nil
}

func validSegment(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '-' || unicode.IsLetter(c) || unicode.IsDigit(c)) {
			return false
		}
	}
	return true
}

// render fills the template from ev. It never fails.
func (t *template) render(ev *herald.Event) string {
	if len(t.parts) == 1 && t.parts[0].path == nil && t.parts[0].event == "" {
		return t.parts[0].lit
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.path == nil && p.event == "" {
			b.WriteString(p.lit)
			continue
		}
		b.WriteString(p.value(ev))
	}
	return b.String()
}

func (p tmplPart) value(ev *herald.Event) string {
	var v any
	if p.event != "" {
		v = eventField(ev, p.event)
	} else {
		v = lookup(ev.Data, p.path)
	}
	s := formatValue(v)
	for _, f := range p.filters {
		switch f.name {
		case "upper":
			s = strings.ToUpper(s)
		case "lower":
			s = strings.ToLower(s)
		case "default":
			if s == "" {
				s = f.arg
			}
		case "number":
			if x, ok := toFloat(v); ok {
				s = formatNumber(x, f.n)
			}
		}
	}
	return s
}

// lookup follows path through nested maps and lists; nil when absent.
func lookup(data map[string]any, path []string) any {
	var cur any = data
	for _, seg := range path {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

// formatValue prints v the way a person writes it.
func formatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return formatFloat(v)
	case float32:
		return formatFloat(float64(v))
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case json.Number:
		if f, err := v.Float64(); err == nil {
			return formatFloat(f)
		}
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case fmt.Stringer:
		return v.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// formatFloat prints 5 as 5, 2.5 as 2.5 and 1e6 as 1000000: never an
// exponent, never a trailing .0.
func formatFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return ""
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
	}
	return 0, false
}

// formatNumber groups thousands with commas; decimals < 0 keeps the
// number's own decimals.
func formatNumber(f float64, decimals int) string {
	s := formatFloat(f)
	if decimals >= 0 {
		s = strconv.FormatFloat(f, 'f', decimals, 64)
	}
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteString("." + frac)
	}
	return sign + b.String()
}

// fields lists the data fields the template reads, dotted.
func (t *template) fields() []tmplRef {
	var out []tmplRef
	for _, p := range t.parts {
		if p.path != nil {
			out = append(out, tmplRef{path: strings.Join(p.path, "."), off: p.nameOff})
		}
	}
	return out
}

type tmplRef struct {
	path string
	off  int
}

// compileTemplate parses the template held by a scalar, positioning
// errors in the file.
func compileTemplate(src, what string, sp span) (*template, *yamlpos.Error) {
	t, err := parseTemplate(src)
	if err != nil {
		te := err.(*tmplError)
		return nil, &yamlpos.Error{Pos: sp.at(te.off), Msg: what + ": " + te.msg}
	}
	t.span = sp
	return t, nil
}

// closest is the candidate nearest to s by edit distance, or "" when none
// is close enough to be a likely typo.
func closest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
