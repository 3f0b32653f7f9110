package rules

import (
	"cmp"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"

	"github.com/heraldhq/herald"
)

// A pre-check decides a when expression in Go, without the expr VM, for
// the events it can: most rules fail on their first comparison, and a VM
// run costs ten times a type switch. It mirrors expr's semantics exactly
// where it answers and answers unsure everywhere else (a missing field
// compared with <, a number where startsWith wants a string, any call it
// does not know); the VM then decides and reports errors as before. It
// reads the optimised tree the VM program was compiled from, so both see
// the same expression.

// verdict is a pre-check's answer.
type verdict uint8

const (
	unsure verdict = iota // only the VM can tell (and it may fail)
	no
	yes
)

func verdictOf(b bool) verdict {
	if b {
		return yes
	}
	return no
}

// check is a compiled pre-check: a small tree of plain data walked by
// eval (closures would make the event escape to the heap), with && and ||
// chains flattened into contiguous parts.
type check struct {
	op    checkOp
	sub   uint8   // the ordering or string test of opOrder and opString
	parts []check // of opAnd, opOr, opNot (one part)
	src   operand
	lit   value               // the literal compared with
	set   map[string]struct{} // of opInSet
	list  []value             // of opInList
}

type checkOp uint8

const (
	opNone     checkOp = iota // no pre-check: always unsure
	opFieldIs                 // an event field == a string: the common case, kept fast
	opAnd                     // parts left to right while yes
	opOr                      // parts left to right while no
	opNot                     // parts[0] negated
	opTruth                   // a bare operand used as a condition (data.is_test)
	opEqual                   // src == lit
	opNotEqual                // src != lit
	opOrder                   // src <, <=, >, >= lit (sub)
	opString                  // src startsWith, endsWith, contains lit (sub)
	opInSet                   // src in a list of strings
	opInList                  // src in any other list of literals
)

// Orderings and string tests (check.sub).
const (
	less uint8 = iota
	lessEq
	more
	moreEq
)

const (
	startsWith uint8 = iota
	endsWith
	contains
)

var (
	orderings   = map[string]uint8{"<": less, "<=": lessEq, ">": more, ">=": moreEq}
	mirrored    = [...]uint8{less: more, lessEq: moreEq, more: less, moreEq: lessEq}
	stringTests = map[string]uint8{"startsWith": startsWith, "endsWith": endsWith, "contains": contains}
)

// nativeCheck compiles the pre-check of a when expression's tree; its op
// is opNone when it would always be unsure.
//
// expr evaluates && and || left to right and stops at the first operand
// that decides, so a check may answer for a && b only when it can answer
// for a: if a would fail in the VM, the rule must fail, whatever b says.
// A chain therefore ends at its first part the pre-check cannot read.
func nativeCheck(n ast.Node) check {
	switch n := n.(type) {
	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "and":
			return chain(opAnd, n)
		case "||", "or":
			return chain(opOr, n)
		}
		return comparison(n)
	case *ast.UnaryNode:
		if n.Operator == "!" || n.Operator == "not" {
			if c := nativeCheck(n.Node); c.op != opNone {
				return check{op: opNot, parts: []check{c}}
			}
		}
	case *ast.IdentifierNode, *ast.BuiltinNode:
		if o, ok := operandOf(n); ok {
			return check{op: opTruth, src: o}
		}
	}
	return check{}
}

// chain flattens a && b && c (parsed as (a && b) && c) into one check.
func chain(op checkOp, n *ast.BinaryNode) check {
	var parts []check
	var add func(n ast.Node) bool // false once a part is opNone
	add = func(n ast.Node) bool {
		if b, ok := n.(*ast.BinaryNode); ok && opOf(b.Operator) == op {
			return add(b.Left) && add(b.Right)
		}
		c := nativeCheck(n)
		parts = append(parts, c)
		return c.op != opNone
	}
	add(n)
	if parts[0].op == opNone {
		return check{}
	}
	return check{op: op, parts: parts}
}

func opOf(operator string) checkOp {
	switch operator {
	case "&&", "and":
		return opAnd
	case "||", "or":
		return opOr
	}
	return opNone
}

// eval decides the check for ev. And and or chains loop here and an
// event field compared with a string is tested in place: that is the path
// most rules take, and each call saved is a nanosecond per rule.
func (c *check) eval(ev *herald.Event, d *dataCache) verdict {
	switch c.op {
	case opFieldIs:
		return verdictOf(c.src.field.of(ev) == c.lit.s)
	case opAnd, opOr:
		goOn := verdictOf(c.op == opAnd) // an opNone part, always last, stops it
		for i := range c.parts {
			p := &c.parts[i]
			v := unsure
			if p.op == opFieldIs {
				v = verdictOf(p.src.field.of(ev) == p.lit.s)
			} else {
				v = p.eval(ev, d)
			}
			if v != goOn {
				return v
			}
		}
		return goOn
	case opNot:
		switch c.parts[0].eval(ev, d) {
		case yes:
			return no
		case no:
			return yes
		}
		return unsure
	case opNone:
		return unsure
	}
	return c.leaf(ev, d)
}

// leaf decides a comparison.
func (c *check) leaf(ev *herald.Event, d *dataCache) verdict {
	if !c.src.isData {
		return c.onString(c.src.field.of(ev))
	}
	x := d.get(ev, &c.src)
	switch c.src.conv {
	case convFloat:
		if f, ok := toFloat(x); ok {
			return c.onFloat(f)
		}
		return unsure // float() fails in the VM
	case convInt:
		if n, ok := toInt(x); ok {
			return c.onInt(n)
		}
		return unsure
	}
	return c.onData(x)
}

// setSlots numbers the data fields c reads.
func (c *check) setSlots(slot func(key string) int8) {
	for i := range c.parts {
		c.parts[i].setSlots(slot)
	}
	if c.src.isData {
		c.src.slot = slot(c.src.key)
	}
}

// cacheSlots is how many data fields a dataCache holds; a file whose
// rules read more reads the rest from the map each time.
const cacheSlots = 16

// dataCache holds the data fields one event's pre-checks have read: a
// data map lookup hashes the key, and a thousand rules that all test
// data.amount need it hashed once. It lives on Route's stack.
type dataCache struct {
	have uint16 // bit n: vals[n] is filled
	vals [cacheSlots]any
}

func (d *dataCache) get(ev *herald.Event, o *operand) any {
	if o.slot < 0 {
		return ev.Data[o.key]
	}
	if d.have&(1<<o.slot) == 0 {
		d.vals[o.slot] = ev.Data[o.key]
		d.have |= 1 << o.slot
	}
	return d.vals[o.slot]
}

// onData decides a leaf for the types data holds; any other type, and
// the sized numbers expr converts in its own ways, are the VM's.
func (c *check) onData(x any) verdict {
	switch x := x.(type) {
	case string:
		return c.onString(x)
	case float64:
		return c.onFloat(x)
	case int:
		return c.onInt(x)
	case int64:
		return c.onInt(int(x)) // expr compares int64 with int as int(x) == int(y)
	case bool:
		return c.onBool(x)
	case nil:
		return c.onNil()
	}
	return unsure
}

func (c *check) onString(s string) verdict {
	switch c.op {
	case opEqual, opNotEqual:
		return c.equality(c.lit.isString(s))
	case opOrder:
		if c.lit.kind == kindString {
			return verdictOf(ordered(c.sub, s, c.lit.s))
		}
	case opString:
		return verdictOf(stringTest(c.sub, s, c.lit.s))
	case opInSet:
		_, in := c.set[s]
		return verdictOf(in)
	case opInList:
		for i := range c.list {
			if c.list[i].isString(s) {
				return yes
			}
		}
		return no
	}
	return unsure
}

func (c *check) onFloat(f float64) verdict {
	switch c.op {
	case opEqual, opNotEqual:
		return c.equality(c.lit.isFloat(f))
	case opOrder:
		switch c.lit.kind {
		case kindInt:
			return verdictOf(ordered(c.sub, f, float64(c.lit.i)))
		case kindFloat:
			return verdictOf(ordered(c.sub, f, c.lit.f))
		}
	case opInList:
		for i := range c.list {
			if c.list[i].isFloat(f) {
				return yes
			}
		}
		return no
	}
	return unsure
}

func (c *check) onInt(n int) verdict {
	switch c.op {
	case opEqual, opNotEqual:
		return c.equality(c.lit.isInt(n))
	case opOrder:
		switch c.lit.kind {
		case kindInt:
			return verdictOf(ordered(c.sub, n, c.lit.i))
		case kindFloat:
			return verdictOf(ordered(c.sub, float64(n), c.lit.f))
		}
	case opInList:
		for i := range c.list {
			if c.list[i].isInt(n) {
				return yes
			}
		}
		return no
	}
	return unsure
}

func (c *check) onBool(b bool) verdict {
	switch c.op {
	case opTruth:
		return verdictOf(b)
	case opEqual, opNotEqual:
		return c.equality(c.lit.kind == kindBool && c.lit.b == b)
	case opInList:
		for i := range c.list {
			if c.list[i].kind == kindBool && c.list[i].b == b {
				return yes
			}
		}
		return no
	}
	return unsure
}

func (c *check) onNil() verdict {
	switch c.op {
	case opEqual, opNotEqual:
		return c.equality(c.lit.kind == kindNil)
	case opString: // the VM answers false for a nil operand
		return no
	case opInSet: // in looks nil up as the key type's zero value
		_, in := c.set[""]
		return verdictOf(in)
	case opInList:
		for i := range c.list {
			if c.list[i].kind == kindNil {
				return yes
			}
		}
		return no
	}
	return unsure
}

func (c *check) equality(eq bool) verdict {
	return verdictOf(eq == (c.op == opEqual))
}

// ordered is expr's <, <=, >, >= on two values of one type; NaN compares
// false both here and there.
func ordered[T cmp.Ordered](sub uint8, a, b T) bool {
	switch sub {
	case less:
		return a < b
	case lessEq:
		return a <= b
	case more:
		return a > b
	}
	return a >= b
}

func stringTest(sub uint8, s, lit string) bool {
	switch sub {
	case startsWith:
		return strings.HasPrefix(s, lit)
	case endsWith:
		return strings.HasSuffix(s, lit)
	}
	return strings.Contains(s, lit)
}

// comparison compiles `operand op literal` or `literal op operand`.
func comparison(n *ast.BinaryNode) check {
	if o, ok := operandOf(n.Left); ok {
		if n.Operator == "in" {
			return membership(o, n.Right)
		}
		if lit, ok := literalOf(n.Right); ok {
			return compareCheck(n.Operator, o, lit, false)
		}
		return check{}
	}
	if o, ok := operandOf(n.Right); ok {
		if lit, ok := literalOf(n.Left); ok {
			return compareCheck(n.Operator, o, lit, true)
		}
	}
	return check{}
}

func compareCheck(op string, o operand, lit value, flipped bool) check {
	c := check{src: o, lit: lit}
	if sub, ok := orderings[op]; ok {
		if flipped { // 10 <= x is x >= 10
			sub = mirrored[sub]
		}
		c.op, c.sub = opOrder, sub
		return c
	}
	if sub, ok := stringTests[op]; ok && !flipped && lit.kind == kindString {
		c.op, c.sub = opString, sub
		return c
	}
	switch op {
	case "==": // expr's == is symmetric for the kinds a pre-check reads
		c.op = opEqual
		if !o.isData && lit.kind == kindString {
			c.op = opFieldIs
		}
	case "!=":
		c.op = opNotEqual
	default:
		return check{}
	}
	return c
}

// membership compiles `operand in [literals]`. The optimiser turns a list
// of strings into a set, where expr's in looks the needle up as a map key:
// a nil needle finds "", any other non-string fails. Any other list of
// literals becomes a []any that in compares element by element with ==.
func membership(o operand, list ast.Node) check {
	c, ok := list.(*ast.ConstantNode)
	if !ok {
		return check{}
	}
	switch set := c.Value.(type) {
	case map[string]struct{}:
		return check{op: opInSet, src: o, set: set}
	case []any:
		elems := make([]value, len(set))
		for i, e := range set {
			if elems[i], ok = valueOf(e); !ok {
				return check{}
			}
		}
		return check{op: opInList, src: o, list: elems}
	}
	return check{}
}

// value is a literal of one of the kinds a pre-check compares with.
type value struct {
	kind kind
	b    bool
	i    int
	f    float64
	s    string
}

type kind uint8

const (
	kindNil kind = iota
	kindInt
	kindFloat
	kindString
	kindBool
)

func valueOf(x any) (value, bool) {
	switch x := x.(type) {
	case nil:
		return value{kind: kindNil}, true
	case int:
		return value{kind: kindInt, i: x}, true
	case float64:
		return value{kind: kindFloat, f: x}, true
	case string:
		return value{kind: kindString, s: x}, true
	case bool:
		return value{kind: kindBool, b: x}, true
	}
	return value{}, false
}

func literalOf(n ast.Node) (value, bool) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return value{kind: kindInt, i: n.Value}, true
	case *ast.FloatNode:
		return value{kind: kindFloat, f: n.Value}, true
	case *ast.StringNode:
		return value{kind: kindString, s: n.Value}, true
	case *ast.BoolNode:
		return value{kind: kindBool, b: n.Value}, true
	case *ast.NilNode:
		return value{kind: kindNil}, true
	case *ast.ConstantNode:
		return valueOf(n.Value)
	}
	return value{}, false
}

// isString, isFloat and isInt are expr's == (runtime.Equal) between the
// literal and an operand: numbers compare as ints when both are, as floats
// otherwise; values of different kinds are never equal.
func (v *value) isString(s string) bool { return v.kind == kindString && v.s == s }

func (v *value) isFloat(f float64) bool {
	switch v.kind {
	case kindInt:
		return float64(v.i) == f
	case kindFloat:
		return v.f == f
	}
	return false
}

func (v *value) isInt(n int) bool {
	switch v.kind {
	case kindInt:
		return v.i == n
	case kindFloat:
		return v.f == float64(n)
	}
	return false
}

// operand is what a pre-check reads from the event: one of its string
// fields, or one data field (data.amount, flattened to the identifier
// "data.amount" at compile time), possibly through float() or int().
type operand struct {
	field  field
	isData bool
	slot   int8 // in the dataCache; -1: none, read the map each time
	conv   conv
	key    string // the data field's name
}

type conv uint8

const (
	convNone conv = iota
	convFloat
	convInt
)

func operandOf(n ast.Node) (operand, bool) {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		if key, ok := strings.CutPrefix(n.Value, dataPrefix); ok {
			return operand{isData: true, key: key}, true
		}
		f, ok := fieldNames[n.Value]
		return operand{field: f}, ok
	case *ast.BuiltinNode:
		cv := map[string]conv{"float": convFloat, "int": convInt}[n.Name]
		if cv == convNone || len(n.Arguments) != 1 {
			return operand{}, false
		}
		o, ok := operandOf(n.Arguments[0])
		if !ok || !o.isData || o.conv != convNone {
			return operand{}, false
		}
		o.conv = cv
		return o, true
	}
	return operand{}, false
}

// toFloat is expr's float() where it succeeds.
func toFloat(x any) (float64, bool) {
	switch x := x.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// toInt is expr's int() where it succeeds and its result is defined.
func toInt(x any) (int, bool) {
	switch x := x.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case float64:
		if -1<<63 <= x && x < 1<<63 { // else Go leaves the result to the platform
			return int(x), true
		}
	case string:
		n, err := strconv.Atoi(x)
		return n, err == nil
	}
	return 0, false
}
