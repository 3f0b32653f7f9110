package rules

// The pre-check's semantics: how one leaf compares a value with its
// literal, copied from expr's own rules so the two never disagree.

import (
	"cmp"
	"strings"
)

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
