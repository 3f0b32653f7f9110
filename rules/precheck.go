package rules

import (
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
