package rules

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	exprparser "github.com/expr-lang/expr/parser"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/spell"
	"github.com/heraldhq/herald/internal/yamlpos"
)

// Checking rules against the shapes of events: each ingress type declares
// the data fields of the events it produces (herald.Shape), and a rule's
// when says which events it is about (source == "twitch" && type ==
// "channel.raid"). Every data field the rule reads is then looked up in
// those shapes, and every + and comparison is checked for text meeting a
// number (or a boolean: is_public == "false" is never true), every in for
// a list of another kind (viewers in ["10"] fails), every other
// arithmetic operator and minus sign for text or a boolean (and an
// ordering for a boolean), and % for a number field (a float, which %
// does not take). A finding is an error when the when names both the
// source and the type (certain), a warning when only one of them
// (probable).

// scope is the set of event shapes a rule can see.
type scope struct {
	shapes  []herald.Shape
	certain bool
	types   []string // the types the when names, for messages
}

// checkShapes checks every rule of the set; it runs after parsing, when
// the ingress section is known. A when that contradicts itself is an
// error even with no shapes to check against: it is never true whatever
// arrives.
func (p *parser) checkShapes(opts Options) {
	instances := p.instances(opts.Builtin)
	for _, r := range p.set.rules {
		if r.when == nil {
			continue
		}
		c := constraints(r.when.prog.Node())
		if c.conflict != nil {
			p.errs.Add(r.when.span.at(c.conflict.at), "rule %q: when can never be true: %s", r.name, c.conflict)
			continue
		}
		p.checkRoom(r, c, instances, opts)
		if opts.Shapes == nil || len(instances) == 0 {
			continue // nothing known to check against
		}
		if sc, ok := p.scopeOf(r, c, instances, opts); ok {
			p.checkRule(r, sc)
		}
	}
}

// checkRoom finds a rule that would lose its alerts: it has no to (so it
// sends each event to the event's own code), and its events come from
// ingress whose events carry no code (Ko-fi, Twitch, a webhook with no
// code: expression). Such a rule loads, matches, and sends nothing. When
// the when names every source, that is certain: an error. When it names
// only types, it is a warning if a source that sends them has no code:
// another may (a trigger can send any type).
func (p *parser) checkRoom(r *rule, c when, instances map[string]instance, opts Options) {
	if opts.Codeless == nil || r.to != nil || r.drop {
		return
	}
	codeless := func(name string) (option string, ok bool) {
		in := instances[name]
		unless, codeless := opts.Codeless(in.typ)
		if !codeless || unless != "" && mappingValue(in.options, unless) != nil {
			return "", false
		}
		if unless != "" {
			option = fmt.Sprintf("%s: on ingress %q", unless, name)
		}
		return option, true
	}
	const hint = "add to: with the room the alerts go to (the code of the page that shows them)"
	if c.sources == nil {
		if c.types == nil || opts.Shapes == nil {
			return
		}
		var from []string
		for _, name := range instanceNames(instances) {
			if _, ok := codeless(name); ok && p.sends(instances[name], c.types, opts) {
				from = append(from, name)
			}
		}
		if len(from) > 0 {
			p.set.warnings.Add(r.pos, "warning: rule %q: no to, and %s sends %s events without a code: those go nowhere; %s",
				r.name, describeSources(from, instances), quoteList(c.types), hint)
		}
		return
	}
	var options []string
	for _, name := range c.sources {
		if _, known := instances[name]; !known {
			return // reported by scopeOf
		}
		option, ok := codeless(name)
		if !ok {
			return
		}
		if option != "" {
			options = append(options, option)
		}
	}
	msg := hint
	if len(options) > 0 {
		msg += ", or set " + strings.Join(options, " and ")
	}
	p.errs.Add(r.pos, "rule %q: no to, and %s sends events without a code, so this rule could never send one: %s",
		r.name, describeSources(c.sources, instances), msg)
}

// sends reports whether in may send an event of one of types: a shape of
// its lists it, or it sends types herald has no shape for (a webhook, a
// Twitch subscription).
func (p *parser) sends(in instance, types []string, opts Options) bool {
	shapes, shaped := opts.Shapes(in.typ)
	if !shaped {
		return true
	}
	var open *regexp.Regexp
	if opts.OpenTypes != nil {
		open = opts.OpenTypes(in.typ)
	}
	for _, t := range types {
		if in.maySend(t, open) || slices.ContainsFunc(shapes, func(sh herald.Shape) bool { return sh.Type == "" || sh.Type == t }) {
			return true
		}
	}
	return false
}

// report adds a finding as an error when certain, a warning otherwise.
func (p *parser) report(certain bool, pos yamlpos.Pos, format string, args ...any) {
	if certain {
		p.errs.Add(pos, format, args...)
		return
	}
	p.set.warnings.Add(pos, "warning: "+format, args...)
}

// scopeOf works out which shapes r's events may have from its when; false
// means there is nothing to check against (neither source nor type named,
// a dynamic ingress, or a type the ingress may send that herald has no
// shape for).
func (p *parser) scopeOf(r *rule, c when, instances map[string]instance, opts Options) (scope, bool) {
	sources, types := c.sources, c.types
	if sources == nil && types == nil {
		return scope{}, false
	}
	names := sources
	if names == nil {
		names = instanceNames(instances)
	}
	var explicit, wildcard []herald.Shape
	var sent []string
	for _, name := range names {
		in, ok := instances[name]
		if !ok {
			p.report(false, r.when.span.start, "rule %q: when: no ingress named %q in this file (known: %s), so source == %q is never true",
				r.name, name, strings.Join(instanceNames(instances), ", "), name)
			return scope{}, false
		}
		shapes, ok := opts.Shapes(in.typ)
		if !ok {
			if sources == nil {
				continue // a dynamic ingress could send anything; judge by the others
			}
			return scope{}, false // the rule is about a dynamic ingress: anything goes
		}
		var open *regexp.Regexp
		if opts.OpenTypes != nil {
			open = opts.OpenTypes(in.typ)
		}
		if p.unshapedTypes(r, name, in, shapes, open, types) {
			return scope{}, false
		}
		for _, sh := range shapes {
			switch {
			case sh.Type == "":
				wildcard = append(wildcard, sh)
			case types == nil || slices.Contains(types, sh.Type):
				explicit = append(explicit, sh)
			}
			if sh.Type != "" {
				sent = append(sent, sh.Type)
			}
		}
	}
	sc := scope{types: types}
	switch {
	case len(explicit) > 0 && (sources == nil || len(wildcard) == 0):
		sc.shapes = explicit
	default:
		sc.shapes = append(explicit, wildcard...)
	}
	sc.certain = sources != nil && (types != nil || len(explicit) == 0)
	if len(sc.shapes) == 0 {
		msg := fmt.Sprintf("rule %q: when can never be true: %s never sends type %s (it sends: %s)",
			r.name, describeSources(sources, instances), quoteList(types), strings.Join(sent, ", "))
		if len(types) == 1 {
			if near := spell.Closest(types[0], sent); near != "" {
				msg += fmt.Sprintf("; did you mean %q?", near)
			}
		}
		p.report(sources != nil, r.when.span.start, "%s", msg)
		return scope{}, false
	}
	return sc, true
}

func describeSources(sources []string, instances map[string]instance) string {
	if sources == nil {
		return "no ingress of this file"
	}
	parts := make([]string, len(sources))
	for i, s := range sources {
		parts[i] = fmt.Sprintf("ingress %q (%s)", s, instances[s].typ)
	}
	return strings.Join(parts, " or ")
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, " or ")
}

// when is what the top-level && chain of a when says of source and type:
// the values each may have (nil: any), or the pair of comparisons that
// leave one of them none.
type when struct {
	sources, types []string
	conflict       *conflict
	// other is set when the && chain has a term that is no source or
	// type comparison: the when asks more than its sources and types.
	other bool
}

// conflict is a when that asks source or type to be two things at once.
type conflict struct {
	name      string
	had, want []string
	at        int // rune offset of the comparison that contradicts
}

func (c *conflict) String() string {
	return fmt.Sprintf("%s cannot be both %s and %s", c.name, oneOf(c.had), oneOf(c.want))
}

// oneOf reads a list of values the way a comparison names them.
func oneOf(vals []string) string {
	if len(vals) == 1 {
		return strconv.Quote(vals[0])
	}
	return "one of " + strings.ReplaceAll(quoteList(vals), " or ", ", ")
}

// constraints reads source == "x", type == "y" and `in` lists from the
// top-level && chain of a when.
func constraints(n ast.Node) when {
	var c when
	var walk func(n ast.Node)
	walk = func(n ast.Node) {
		b, ok := n.(*ast.BinaryNode)
		if !ok {
			c.other = true
			return
		}
		switch b.Operator {
		case "&&", "and":
			walk(b.Left)
			walk(b.Right)
			return
		}
		name, vals := equality(b)
		var have *[]string
		switch name {
		case "source":
			have = &c.sources
		case "type":
			have = &c.types
		default:
			c.other = true
			return
		}
		next := intersect(*have, vals)
		if len(next) == 0 && c.conflict == nil {
			c.conflict = &conflict{name: name, had: *have, want: vals, at: b.Left.Location().From}
		}
		*have = next
	}
	walk(n)
	return c
}

// equality reads `ident == "lit"`, `"lit" == ident` and `ident in [...]`.
func equality(b *ast.BinaryNode) (string, []string) {
	ident := func(n ast.Node) string {
		if id, ok := n.(*ast.IdentifierNode); ok {
			return id.Value
		}
		return ""
	}
	switch b.Operator {
	case "==":
		if s, ok := b.Right.(*ast.StringNode); ok && ident(b.Left) != "" {
			return ident(b.Left), []string{s.Value}
		}
		if s, ok := b.Left.(*ast.StringNode); ok && ident(b.Right) != "" {
			return ident(b.Right), []string{s.Value}
		}
	case "in":
		if ident(b.Left) == "" {
			return "", nil
		}
		switch r := b.Right.(type) {
		case *ast.ArrayNode:
			var out []string
			for _, e := range r.Nodes {
				s, ok := e.(*ast.StringNode)
				if !ok {
					return "", nil
				}
				out = append(out, s.Value)
			}
			if len(out) == 0 {
				return "", nil
			}
			return ident(b.Left), out
		case *ast.ConstantNode: // the optimiser's set of literals
			var out []string
			switch v := r.Value.(type) {
			case map[string]struct{}:
				for k := range v {
					out = append(out, k)
				}
			case []any:
				for _, x := range v {
					if s, ok := x.(string); ok {
						out = append(out, s)
					}
				}
			}
			slices.Sort(out)
			if len(out) == 0 {
				return "", nil // not a list of strings: nothing to read
			}
			return ident(b.Left), out
		}
	}
	return "", nil
}

func intersect(have, add []string) []string {
	if have == nil {
		return add
	}
	var out []string
	for _, s := range have {
		if slices.Contains(add, s) {
			out = append(out, s)
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// checkRule checks every data field and operator of r against sc.
func (p *parser) checkRule(r *rule, sc scope) {
	for _, prog := range r.programs() {
		p.checkProgram(r, prog, sc)
	}
	for _, t := range r.templates() {
		for _, ref := range t.fields() {
			if _, found, _ := sc.lookup(ref.path); !found {
				p.unknownField(r, sc, t.span.at(ref.off), ref.path, true)
			}
		}
	}
}

// programs lists r's compiled expressions.
func (r *rule) programs() []*program {
	var out []*program
	add := func(p *program) {
		if p != nil {
			out = append(out, p)
		}
	}
	add(r.when)
	add(r.emit.prog)
	for _, t := range r.to {
		add(t.prog)
	}
	for _, f := range r.set {
		add(f.prog)
	}
	return out
}

// templates lists r's templates.
func (r *rule) templates() []*template {
	var out []*template
	add := func(t *template) {
		if t != nil {
			out = append(out, t)
		}
	}
	add(r.emit.tmpl)
	for _, t := range r.to {
		add(t.tmpl)
	}
	for _, f := range r.set {
		add(f.tmpl)
	}
	return out
}

// unknownField reports a data field r reads that sc's events never have;
// inTemplate says it is read by a template, where get() cannot be written.
func (p *parser) unknownField(r *rule, sc scope, pos yamlpos.Pos, path string, inTemplate bool) {
	var names []string
	for _, sh := range sc.shapes {
		for f := range sh.Fields {
			if !slices.Contains(names, f) {
				names = append(names, f)
			}
		}
	}
	slices.Sort(names)
	what := "these events"
	if len(sc.types) > 0 {
		what = quoteList(sc.types) + " events"
	}
	msg := fmt.Sprintf("rule %q: data.%s: %s have no field %q", r.name, path, what, path)
	if near := spell.Closest(path, names); near != "" {
		msg += fmt.Sprintf("; did you mean %s?", near)
	} else if !strings.Contains(path, ".") && inTemplate {
		msg += fmt.Sprintf(` (a field herald does not know of yet: write the value as an expression that reads it with get(), e.g. '"… " + string(get(data, %q))')`, path)
	} else if !strings.Contains(path, ".") {
		msg += fmt.Sprintf(` (a field herald does not know of yet: get(data, %q))`, path)
	}
	p.report(sc.certain, pos, "%s", msg)
}

// lookup finds a data field in the scope's shapes: its kind (KindAny when
// shapes disagree), whether any shape has it, and whether the kind is
// promised (a listed field) rather than the shape's Rest.
func (sc scope) lookup(path string) (kind herald.Kind, found, listed bool) {
	norm := normalisePath(path)
	listed = true
	for _, sh := range sc.shapes {
		k, ok, fromList := shapeField(sh, norm)
		if !ok {
			continue
		}
		if !found {
			kind = k
		} else if kind != k {
			kind = herald.KindAny
		}
		found = true
		listed = listed && fromList
	}
	return kind, found, listed && found
}

// normalisePath writes list indexes as 0, the way shapes list them.
func normalisePath(path string) string {
	segs := strings.Split(path, ".")
	for i, s := range segs {
		if _, err := strconv.Atoi(s); err == nil {
			segs[i] = "0"
		}
	}
	return strings.Join(segs, ".")
}

func shapeField(sh herald.Shape, path string) (herald.Kind, bool, bool) {
	if k, ok := sh.Fields[path]; ok {
		return k, true, true
	}
	for f, k := range sh.Fields {
		if strings.HasPrefix(f, path+".") {
			return herald.KindObject, true, true // a parent of listed fields
		}
		if strings.HasPrefix(path, f+".") && (k == herald.KindObject || k == herald.KindAny) {
			return herald.KindAny, true, true // inside an object not listed in full
		}
	}
	if sh.Rest != "" {
		return sh.Rest, true, false
	}
	return "", false, false
}

// kindOf infers the JSON kind of an expression node; "" when unknown.
// promised is false when the kind came from a shape's Rest (probable).
func (sc scope) kindOf(n ast.Node) (kind herald.Kind, field string, promised bool) {
	switch n := n.(type) {
	case *ast.StringNode:
		return herald.KindString, "", true
	case *ast.IntegerNode, *ast.FloatNode:
		return herald.KindNumber, "", true
	case *ast.BoolNode:
		return herald.KindBool, "", true
	case *ast.MemberNode, *ast.ChainNode:
		path, ok := dataPath(n)
		if !ok {
			return "", "", false
		}
		k, found, listed := sc.lookup(path)
		if !found || k == herald.KindAny || k == herald.KindObject {
			return "", path, false
		}
		return k, path, listed
	case *ast.BinaryNode:
		if n.Operator == "+" {
			l, _, lp := sc.kindOf(n.Left)
			r, _, rp := sc.kindOf(n.Right)
			// expr joins only two texts and adds only two numbers, so a
			// side that is surely text (or surely a number) makes the sum
			// that or an error, whatever the other side turns out to be:
			// data.user + " followed" is text on every event it does not
			// fail on.
			for _, side := range [...]struct {
				kind     herald.Kind
				promised bool
			}{{l, lp}, {r, rp}} {
				if side.promised && (side.kind == herald.KindString || side.kind == herald.KindNumber) {
					return side.kind, "", true
				}
			}
			if l == r && l != "" {
				return l, "", lp && rp
			}
			if l == herald.KindString || r == herald.KindString {
				return herald.KindString, "", lp && rp
			}
		}
	case *ast.BuiltinNode:
		switch n.Name {
		case "string", "upper", "lower", "trim", "trimPrefix", "trimSuffix", "repeat", "join", "replace":
			return herald.KindString, "", true
		case "float", "int", "len", "abs", "round", "floor", "ceil":
			return herald.KindNumber, "", true
		}
	}
	if t := n.Type(); t != nil {
		switch t.Kind() {
		case reflect.String:
			return herald.KindString, "", true
		case reflect.Int, reflect.Int64, reflect.Float64:
			return herald.KindNumber, "", true
		}
	}
	return "", "", false
}

// dataPath reads data.a.b (or data["a"]["b"]) as "a.b".
func dataPath(n ast.Node) (string, bool) {
	var segs []string
	for {
		switch m := n.(type) {
		case *ast.ChainNode:
			n = m.Node
			continue
		case *ast.MemberNode:
			switch prop := m.Property.(type) {
			case *ast.StringNode:
				segs = append(segs, prop.Value)
			case *ast.IntegerNode:
				segs = append(segs, strconv.Itoa(prop.Value))
			default:
				return "", false
			}
			n = m.Node
			continue
		case *ast.IdentifierNode:
			if m.Value != "data" || len(segs) == 0 {
				return "", false
			}
			slices.Reverse(segs)
			return strings.Join(segs, "."), true
		}
		return "", false
	}
}

// checkProgram reports unknown fields and text meeting numbers in prog.
func (p *parser) checkProgram(r *rule, prog *program, sc scope) {
	root := prog.prog.Node()
	var unknown []string
	// in tests are checked after the walk, which reaches the not of a
	// not in after the in itself.
	var ins []*ast.BinaryNode
	var notIn map[*ast.BinaryNode]bool
	visit := func(n ast.Node) {
		switch n := n.(type) {
		case *ast.MemberNode:
			path, ok := dataPath(n)
			if !ok {
				return
			}
			for _, u := range unknown {
				if path == u || strings.HasPrefix(path, u+".") {
					return
				}
			}
			if _, found, _ := sc.lookup(path); !found {
				unknown = append(unknown, path)
				p.unknownField(r, sc, prog.span.at(n.Location().From), path, false)
			}
		case *ast.BinaryNode:
			if n.Operator == "in" {
				ins = append(ins, n)
				return
			}
			p.checkOperator(prog, sc, n)
		case *ast.UnaryNode:
			// x not in y is a not around an in, both at the in.
			if in, ok := n.Node.(*ast.BinaryNode); ok && n.Operator == "not" && in.Operator == "in" && n.Location() == in.Location() {
				if notIn == nil {
					notIn = map[*ast.BinaryNode]bool{}
				}
				notIn[in] = true
			}
			p.checkNegation(prog, sc, n)
		}
	}
	// expr's own walk reaches every kind of node (closures, predicates,
	// slices, let); it visits children first, so of a chain of unknown
	// fields (data.a.b) the first unknown one is reported.
	ast.Walk(&root, visitor(visit))
	for _, in := range ins {
		p.checkIn(prog, sc, in, notIn[in])
	}
}

// visitor adapts a function to expr's ast.Visitor.
type visitor func(ast.Node)

func (v visitor) Visit(n *ast.Node) { v(*n) }

// arithmetic are the operators that fail on text whatever the other
// side is (+ joins two texts).
var arithmetic = []string{"-", "*", "/", "%", "**", "^"}

func (p *parser) checkOperator(prog *program, sc scope, b *ast.BinaryNode) {
	l, lf, lp := sc.kindOf(b.Left)
	rk, rf, rp := sc.kindOf(b.Right)
	pos := prog.span.at(b.Location().From)
	if slices.Contains(arithmetic, b.Operator) {
		p.checkArithmetic(prog, sc, b, pos)
		return
	}
	if p.checkBoolean(prog, sc, b, pos) {
		return
	}
	if l == "" || rk == "" || l == rk {
		return
	}
	certain := sc.certain && lp && rp
	field, fk, other := lf, l, rk
	if field == "" {
		field, fk, other = rf, rk, l
	}
	switch b.Operator {
	case "+":
		if (l == herald.KindString && rk == herald.KindNumber) || (l == herald.KindNumber && rk == herald.KindString) {
			p.report(certain, pos, "%s: text + number fails on every event: %s", prog.what, plusHint(prog.cond, field, fk))
		}
	case "==", "!=", "<", "<=", ">", ">=":
		if field == "" {
			return
		}
		ordering := b.Operator != "==" && b.Operator != "!="
		var fix string
		switch {
		case fk == herald.KindString && other == herald.KindNumber && ordering:
			// Quoting the number would compare texts letter by letter
			// ("10.00" < "5"): only a conversion orders them.
			fix = "write " + withNumbers(b, sc, "", false)
		case ordering && !(fk == herald.KindNumber && other == herald.KindString):
			return // a boolean ordered: a field is checkBoolean's, a literal expr refuses
		default:
			if fix = compareFix(field, fk, other, false); fix == "" {
				return
			}
		}
		if lit, ok := retyped(b, lf == "", fk); ok {
			fix = "write " + lit
		}
		effect := "is never true"
		if b.Operator == "!=" {
			effect = "is always true"
		} else if b.Operator != "==" {
			effect = "fails on every event"
		}
		p.report(certain, pos, "%s: data.%s is a %s, so %s with a %s %s: %s",
			prog.what, field, fk, b.Operator, other, effect, fix)
	}
}

// compareFix is the hint for field, of kind fk, compared with a value of
// kind other (or, many, with the items of a list of them); "" for kinds it
// has no hint for.
func compareFix(field string, fk, other herald.Kind, many bool) string {
	a := func(one, several string) string {
		if many {
			return several
		}
		return one
	}
	switch {
	case fk == herald.KindString && other == herald.KindNumber:
		return fmt.Sprintf("compare float(data.%s) with %s, or data.%s with %s", field, a("the number", "the numbers"), field, a("a quoted text", "quoted texts"))
	case fk == herald.KindNumber && other == herald.KindString:
		return fmt.Sprintf("compare data.%s with %s, without quotes", field, a("a number", "numbers"))
	case fk == herald.KindBool && other == herald.KindString:
		return fmt.Sprintf("compare data.%s with true or false, without quotes", field)
	case fk == herald.KindBool && other == herald.KindNumber:
		return fmt.Sprintf("compare data.%s with true or false", field)
	case fk == herald.KindString && other == herald.KindBool:
		return fmt.Sprintf("compare data.%s with %s", field, a("a quoted text", "quoted texts"))
	case fk == herald.KindNumber && other == herald.KindBool:
		return fmt.Sprintf("compare data.%s with %s", field, a("a number", "numbers"))
	}
	return ""
}

// wholeDecimal is a number as a quoted literal may spell it ("10", "2.50").
var wholeDecimal = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// retyped writes comparison b with its literal side in the kind of the
// field on the other side (fieldRight says which side that is): "10"
// against a number field reads 10, "false" against a boolean false, true
// against a text field "true". false when the literal has no such form.
func retyped(b *ast.BinaryNode, fieldRight bool, fk herald.Kind) (string, bool) {
	fieldSide, litSide := b.Left, b.Right
	if fieldRight {
		fieldSide, litSide = b.Right, b.Left
	}
	lit := ""
	switch n := litSide.(type) {
	case *ast.StringNode:
		switch {
		case fk == herald.KindNumber && wholeDecimal.MatchString(n.Value):
			lit = n.Value
		case fk == herald.KindBool && (n.Value == "true" || n.Value == "false"):
			lit = n.Value
		}
	case *ast.BoolNode:
		if fk == herald.KindString {
			lit = strconv.Quote(strconv.FormatBool(n.Value))
		}
	}
	if lit == "" {
		return "", false
	}
	if fieldRight {
		return lit + " " + b.Operator + " " + fieldSide.String(), true
	}
	return fieldSide.String() + " " + b.Operator + " " + lit, true
}

// checkIn finds a field tested against a list of literals all of another
// kind. expr turns a list written as texts into a set of texts, and
// looking a number or a boolean up in it fails: data.viewers in ["10",
// "20"] fails on every event. Other lists are compared item by item:
// data.amount in [5, 10] is never true, and not in always true. A list
// mixing kinds, or one that is not written out, is not judged.
func (p *parser) checkIn(prog *program, sc scope, b *ast.BinaryNode, negated bool) {
	fk, field, promised := sc.kindOf(b.Left)
	if fk == "" || field == "" {
		return
	}
	items, other, set := listItems(b)
	if other == "" || other == fk {
		return
	}
	if set { // the set has no order: read the list as written
		if written := writtenList(prog.src, b); len(written) > 0 {
			items = written
		}
	}
	op := "in"
	if negated {
		op = "not in"
	}
	effect := "is never true"
	switch {
	case set:
		effect = "fails on every event"
	case negated:
		effect = "is always true"
	}
	fix := compareFix(field, fk, other, true)
	if fix == "" {
		return
	}
	if list, ok := retypedList(items, fk); ok {
		fix = "write " + b.Left.String() + " " + op + " " + list
	}
	p.report(sc.certain && promised, prog.span.at(b.Location().From), "%s: data.%s is a %s, so %s with a list of %ss %s: %s",
		prog.what, field, fk, op, other, effect, fix)
}

// listItems reads the literal list on the right of in: the items and
// their one kind, "" when the list is not written out, is empty or mixes
// kinds. expr's optimiser has made a list of literals a constant: a set
// when every item is written as a text (set is true; its items come
// sorted), a list in the order written otherwise.
func listItems(b *ast.BinaryNode) (items []any, kind herald.Kind, set bool) {
	switch r := b.Right.(type) {
	case *ast.ConstantNode:
		switch v := r.Value.(type) {
		case []any:
			items = v
		case map[string]struct{}:
			set = true
			for _, k := range slices.Sorted(maps.Keys(v)) {
				items = append(items, k)
			}
		}
	case *ast.ArrayNode:
		items = literals(r.Nodes)
	}
	for _, it := range items {
		var k herald.Kind
		switch it.(type) {
		case string:
			k = herald.KindString
		case int, float64:
			k = herald.KindNumber
		case bool:
			k = herald.KindBool
		}
		if k == "" || kind != "" && k != kind {
			return nil, "", false
		}
		kind = k
	}
	return items, kind, set
}

// writtenList finds the list of the in at b's place in src as parsed,
// before the optimiser made a set of it.
func writtenList(src string, b *ast.BinaryNode) []any {
	tree, err := exprparser.Parse(src)
	if err != nil {
		return nil
	}
	var items []any
	ast.Walk(&tree.Node, visitor(func(n ast.Node) {
		if in, ok := n.(*ast.BinaryNode); ok && in.Operator == "in" && in.Location() == b.Location() {
			if list, ok := in.Right.(*ast.ArrayNode); ok {
				items = literals(list.Nodes)
			}
		}
	}))
	return items
}

// literals reads a list of literal nodes; nil if any item is not one.
func literals(nodes []ast.Node) []any {
	items := make([]any, 0, len(nodes))
	for _, n := range nodes {
		switch n := n.(type) {
		case *ast.StringNode:
			items = append(items, n.Value)
		case *ast.IntegerNode:
			items = append(items, n.Value)
		case *ast.FloatNode:
			items = append(items, n.Value)
		case *ast.BoolNode:
			items = append(items, n.Value)
		default:
			return nil
		}
	}
	return items
}

// retypedList writes a list of texts in the kind of the field tested
// against it, as retyped does a literal: ["10", "20"] for a number field
// reads [10, 20], ["true"] for a boolean [true], and [true] for a text
// field ["true"]. false when an item has no such form.
func retypedList(items []any, fk herald.Kind) (string, bool) {
	out := make([]string, len(items))
	for i, it := range items {
		switch v := it.(type) {
		case string:
			switch {
			case fk == herald.KindNumber && wholeDecimal.MatchString(v):
				out[i] = v
			case fk == herald.KindBool && (v == "true" || v == "false"):
				out[i] = v
			default:
				return "", false
			}
		case bool:
			if fk != herald.KindString {
				return "", false
			}
			out[i] = strconv.Quote(strconv.FormatBool(v))
		default:
			return "", false
		}
	}
	return "[" + strings.Join(out, ", ") + "]", true
}

// checkArithmetic finds arithmetic on a text field (Ko-fi's amount is
// "3.00", a trigger parameter "5"): - * / % ** fail on text whatever the
// other side is, so the fix converts the field.
func (p *parser) checkArithmetic(prog *program, sc scope, b *ast.BinaryNode, pos yamlpos.Pos) {
	l, lf, lp := sc.kindOf(b.Left)
	rk, rf, rp := sc.kindOf(b.Right)
	left, right := l == herald.KindString && lf != "", rk == herald.KindString && rf != ""
	if !left && !right {
		if !p.checkBoolean(prog, sc, b, pos) && b.Operator == "%" {
			p.checkRemainder(prog, sc, b, pos)
		}
		return
	}
	// Either text side is enough to fail: name a promised one if any.
	field, promised, other := lf, lp, rk
	if !left || !lp && right && rp {
		field, promised, other = rf, rp, l
	}
	with := ""
	if other == herald.KindNumber {
		with = " with a number"
	}
	p.report(sc.certain && promised, pos, "%s: data.%s is a %s, so %s%s fails on every event: write %s",
		prog.what, field, herald.KindString, b.Operator, with, withNumbers(b, sc, b.Operator, !promised))
}

// checkBoolean finds a boolean field in arithmetic or an ordering:
// data.is_public * 2 and data.is_public < 1 fail on every event whatever
// the other side is. There is no rewrite to offer, but for + with text
// (string(…), as for a number). It reports whether it found one.
func (p *parser) checkBoolean(prog *program, sc scope, b *ast.BinaryNode, pos yamlpos.Pos) bool {
	switch b.Operator {
	case "+", "-", "*", "/", "%", "**", "^", "<", "<=", ">", ">=":
	default:
		return false
	}
	l, lf, lp := sc.kindOf(b.Left)
	rk, rf, rp := sc.kindOf(b.Right)
	left, right := l == herald.KindBool && lf != "", rk == herald.KindBool && rf != ""
	if !left && !right {
		return false
	}
	field, promised, other := lf, lp, rk
	if !left || !lp && right && rp {
		field, promised, other = rf, rp, l
	}
	with, fix := "", ""
	if other != "" {
		with = " with a " + string(other)
	}
	switch {
	case b.Operator == "+" && other == herald.KindString && prog.cond:
		fix = fmt.Sprintf(": use string(data.%s)", field)
	case b.Operator == "+" && other == herald.KindString:
		fix = fmt.Sprintf(`: write the text as a template ("… {{ %s }} …") or use string(data.%s)`, field, field)
	}
	p.report(sc.certain && promised, pos, "%s: data.%s is a %s, so %s%s fails on every event%s",
		prog.what, field, herald.KindBool, b.Operator, with, fix)
	return true
}

// checkRemainder finds % on a number field: JSON numbers reach
// expressions as floats (24 is 24.0) and % takes integers only, so
// data.cumulative_months % 12 fails on every event. The fix converts the
// field with int; len(…), int(…) and literals are integers already.
func (p *parser) checkRemainder(prog *program, sc scope, b *ast.BinaryNode, pos yamlpos.Pos) {
	l, lf, lp := sc.kindOf(b.Left)
	rk, rf, rp := sc.kindOf(b.Right)
	left, right := l == herald.KindNumber && lf != "", rk == herald.KindNumber && rf != ""
	if !left && !right {
		return
	}
	field, promised := lf, lp
	if !left || !lp && right && rp {
		field, promised = rf, rp
	}
	p.report(sc.certain && promised, pos, "%s: data.%s is a %s, which expressions read as a float, and %% takes integers only, so it fails on every event: write %s",
		prog.what, field, herald.KindNumber, withNumbers(b, sc, b.Operator, false))
}

// checkNegation finds a minus sign before a text or boolean field:
// -data.amount fails on every event.
func (p *parser) checkNegation(prog *program, sc scope, u *ast.UnaryNode) {
	if u.Operator != "-" {
		return
	}
	k, field, promised := sc.kindOf(u.Node)
	if k == herald.KindBool && field != "" {
		p.report(sc.certain && promised, prog.span.at(u.Location().From), "%s: data.%s is a %s, so a minus sign before it fails on every event",
			prog.what, field, herald.KindBool)
		return
	}
	if k != herald.KindString || field == "" {
		return
	}
	p.report(sc.certain && promised, prog.span.at(u.Location().From), "%s: data.%s is a %s, so a minus sign before it fails on every event: write -%s",
		prog.what, field, herald.KindString, toNumber(u.Node, "", promised))
}

// withNumbers writes the fix for binary b with every text field converted
// to a number (see toNumber), and for % every number field to an integer.
// wholeToo adds the same with int, for a field
// the shape only probably has as text (a trigger parameter, "5": int may
// be what was meant).
func withNumbers(b *ast.BinaryNode, sc scope, op string, wholeToo bool) string {
	write := func(conv func(n ast.Node, promised bool) string) string {
		side := func(n ast.Node) string {
			k, field, promised := sc.kindOf(n)
			switch {
			case k == herald.KindString && field != "":
				return conv(n, promised)
			case k == herald.KindNumber && field != "" && op == "%":
				return "int(" + n.String() + ")" // a float to %: see checkRemainder
			}
			return operandText(n)
		}
		return side(b.Left) + " " + b.Operator + " " + side(b.Right)
	}
	fix := write(func(n ast.Node, promised bool) string { return toNumber(n, op, promised) })
	if wholeToo && op != "%" {
		fix += " (or " + write(func(n ast.Node, _ bool) string { return "int(" + n.String() + ")" }) + " for whole numbers)"
	}
	return fix
}

// toNumber converts a text field for arithmetic or an ordering: float
// reads "3.00" and "5" alike. % takes whole numbers only: int, of the
// float when the text may have decimals (a promised text field such as
// Ko-fi's amount; int("3.00") fails).
func toNumber(n ast.Node, op string, promised bool) string {
	switch {
	case op == "%" && promised:
		return "int(float(" + n.String() + "))"
	case op == "%":
		return "int(" + n.String() + ")"
	}
	return "float(" + n.String() + ")"
}

// operandText prints the other side of a fix: a literal or a field as
// written, anything longer as "…".
func operandText(n ast.Node) string {
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.StringNode, *ast.BoolNode, *ast.NilNode, *ast.IdentifierNode:
		return n.String()
	}
	if _, ok := dataPath(n); ok {
		return n.String()
	}
	return "…"
}

// plusHint is the fix for text + number. Where the expression makes text
// (set, emit, to) the fix is a template; in a when, which makes no text,
// it is converting one side so the types match.
func plusHint(cond bool, field string, fk herald.Kind) string {
	switch {
	case cond && field != "" && fk == herald.KindString:
		return fmt.Sprintf("the types do not match (data.%s is text); use float(data.%s) to add to it", field, field)
	case cond && field != "" && fk == herald.KindNumber:
		return fmt.Sprintf("the types do not match (data.%s is a number); compare numbers, or use string(data.%s)", field, field)
	case cond:
		return "the types do not match; convert one side with float(…) or string(…)"
	case field != "" && fk == herald.KindNumber:
		return fmt.Sprintf(`write the text as a template ("… {{ %s }} …") or use string(data.%s)`, field, field)
	}
	return "write the text as a template instead"
}
