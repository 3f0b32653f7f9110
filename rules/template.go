package rules

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/spell"
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

// isTemplate reports whether a value is written as a template. In set, a
// double-quoted value is one even without {{ (see isText): plain text.
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
		if near := spell.Closest(name, tmplFilters); near != "" {
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
			if t, ok := numberText(v); ok {
				s = formatNumber(t, f.n)
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
	switch {
	case math.IsInf(f, 0) || math.IsNaN(f):
		return ""
	case f == 0: // -0 too: nobody writes a minus on nothing
		return "0"
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

// plainDecimal is a number written the way formatNumber can take it
// digit by digit, so a text field keeps digits a float64 cannot hold.
var plainDecimal = regexp.MustCompile(`^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$`)

// numberText is v as decimal digits with no exponent, and the same digits
// the plain form {{ v }} prints: the number filter only groups and rounds
// them, so the two forms never disagree.
func numberText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		if t := strings.TrimSpace(v); plainDecimal.MatchString(t) {
			return trimDecimal(t), true
		}
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	}
	f, ok := toFloat(v)
	if !ok || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", false
	}
	return formatFloat(f), true
}

// trimDecimal writes a plainDecimal the way formatFloat would: no plus,
// no leading or trailing zeros beyond one whole digit.
func trimDecimal(t string) string {
	sign := ""
	if t[0] == '-' || t[0] == '+' {
		sign, t = strings.TrimPrefix(t[:1], "+"), t[1:]
	}
	whole, frac, _ := strings.Cut(t, ".")
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	if frac = strings.TrimRight(frac, "0"); frac != "" {
		whole += "." + frac
	}
	return sign + whole
}

// formatNumber groups the thousands of decimal text t with commas and,
// for decimals >= 0, rounds it half up to that many places, as a person
// rounds the number they read.
func formatNumber(t string, decimals int) string {
	neg := strings.HasPrefix(t, "-")
	t = strings.TrimPrefix(t, "-")
	if decimals >= 0 {
		t = roundDecimal(t, decimals)
	}
	whole, frac, hasFrac := strings.Cut(t, ".")
	var b strings.Builder
	if neg && strings.Trim(whole+frac, "0") != "" { // -0.004 rounds to 0.00, not -0.00
		b.WriteByte('-')
	}
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteString("." + frac)
	}
	return b.String()
}

// roundDecimal rounds unsigned decimal text t half up to decimals places.
func roundDecimal(t string, decimals int) string {
	whole, frac, _ := strings.Cut(t, ".")
	up := len(frac) > decimals && frac[decimals] >= '5'
	if len(frac) > decimals {
		frac = frac[:decimals]
	}
	digits := []byte(whole + frac + strings.Repeat("0", decimals-len(frac)))
	for i := len(digits) - 1; up && i >= 0; i-- {
		if digits[i] == '9' {
			digits[i] = '0'
			continue
		}
		digits[i]++
		up = false
	}
	if up {
		digits = append([]byte{'1'}, digits...)
	}
	if decimals == 0 {
		return string(digits)
	}
	cut := len(digits) - decimals
	return string(digits[:cut]) + "." + string(digits[cut:])
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
