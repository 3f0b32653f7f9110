package rules

// Reading a when expression's tree into pre-check leaves: operands,
// literals and the comparisons between them.

import (
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
)

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
