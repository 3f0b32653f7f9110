package rules

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	exprparser "github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/yamlpos"
)

// exprTag marks an emit or to value as an expression rather than a literal.
const exprTag = "!expr"

// envTypes declares the names an expression may use and their types, so
// a typo such as dta.amount is a load error. It is a map type, not a
// struct: expr loads map entries with one map lookup (OpLoadFast) where
// struct fields go through reflection and allocate, and a rule that does
// not match must cost next to nothing.
var envTypes = types.Map{
	"source":  types.String,
	"type":    types.String,
	"code":    types.String,
	"id":      types.String,
	"data":    types.TypeOf(map[string]any{}),
	"headers": types.TypeOf(map[string]string{}),
	"time":    types.TypeOf(time.Time{}),
}

// dataPrefix names the flattened data fields: data.amount is compiled as
// the environment entry "data.amount", filled once per event, because
// expr reads a map field through reflection and allocates every time.
const dataPrefix = "data."

// program is one compiled expression and where it came from.
type program struct {
	prog  *vm.Program
	what  string // "when", "emit", "set.text": for messages
	span  span
	names []string // environment entries it reads
	// native decides a when expression without the VM when it can.
	native check
	// lead is native's first test when that is `field == "literal"`: most
	// rules start with one and fail on it, so matches tries it before
	// anything else.
	lead    field
	leadIs  string
	hasLead bool
}

// exprCompiler compiles the expressions of one file with one expr
// configuration: building a configuration copies expr's builtin table,
// which would otherwise dominate loading a large file. Not safe for
// concurrent use; Parse makes one per call.
type exprCompiler struct {
	cfg   *conf.Config
	slots map[string]int8 // data field -> its slot in a dataCache
}

func newExprCompiler() *exprCompiler {
	cfg := conf.CreateNew()
	cfg.WithEnv(envTypes) // a fresh nature: data fields are added to it below
	return &exprCompiler{cfg: cfg, slots: map[string]int8{}}
}

// compile compiles src, reporting errors at their own position in the
// file. It is expr.Compile split open so the configuration is reused and
// data fields are flattened (see dataPrefix) with one parse.
func (c *exprCompiler) compile(src string, what string, sp span, asBool bool) (*program, error) {
	tree, err := exprparser.ParseWithConfig(src, c.cfg)
	if err != nil {
		return nil, sp.wrap(what, err)
	}
	names, fields := envNames(tree.Node)
	for _, f := range fields {
		c.cfg.Env.Fields[dataPrefix+f] = types.Any.Nature()
		names = append(names, dataPrefix+f)
	}
	if len(fields) > 0 {
		ast.Walk(&tree.Node, flattenData{})
	}
	c.cfg.Expect, c.cfg.ExpectAny = reflect.Invalid, false
	if asBool {
		c.cfg.Expect, c.cfg.ExpectAny = reflect.Bool, true
	}
	if _, err := checker.Check(tree, c.cfg); err != nil {
		return nil, sp.wrap(what, err)
	}
	if err := optimizer.Optimize(&tree.Node, c.cfg); err != nil {
		return nil, sp.wrap(what, err)
	}
	prog, err := compiler.Compile(tree, c.cfg)
	if err != nil {
		return nil, sp.wrap(what, err)
	}
	p := &program{prog: prog, what: what, span: sp, names: names}
	if asBool {
		p.native = nativeCheck(prog.Node())
		p.native.setSlots(c.slot)
		p.setLead()
	}
	return p, nil
}

func (p *program) setLead() {
	c := &p.native
	if c.op == opAnd {
		c = &c.parts[0]
	}
	if c.op == opFieldIs {
		p.lead, p.leadIs, p.hasLead = c.src.field, c.lit.s, true
	}
}

// slot numbers the data fields pre-checks read, in the order first read;
// -1 once a dataCache is full.
func (c *exprCompiler) slot(key string) int8 {
	if n, ok := c.slots[key]; ok {
		return n
	}
	n := int8(-1)
	if len(c.slots) < cacheSlots {
		n = int8(len(c.slots))
	}
	c.slots[key] = n
	return n
}

// envNames lists the environment names an expression reads and the data
// fields it reads as data.<field> or data["<field>"]. A file that
// declares its own variable named data gets no flattening.
func envNames(n ast.Node) (names, fields []string) {
	v := &nameCollector{}
	ast.Walk(&n, v)
	if v.shadowed {
		v.fields = nil
		if !slices.Contains(v.names, "data") {
			v.names = append(v.names, "data")
		}
	}
	return v.names, v.fields
}

type nameCollector struct {
	names, fields []string
	shadowed      bool
}

func (c *nameCollector) Visit(n *ast.Node) {
	switch n := (*n).(type) {
	case *ast.IdentifierNode:
		if _, ok := envTypes[n.Value]; ok && !slices.Contains(c.names, n.Value) {
			c.names = append(c.names, n.Value)
		}
	case *ast.MemberNode:
		if f, ok := dataField(n); ok && !slices.Contains(c.fields, f) {
			c.fields = append(c.fields, f)
		}
	case *ast.VariableDeclaratorNode:
		c.shadowed = c.shadowed || n.Name == "data"
	}
}

// dataField reports whether n reads a field of the event's data.
func dataField(n *ast.MemberNode) (string, bool) {
	id, ok := n.Node.(*ast.IdentifierNode)
	if !ok || id.Value != "data" {
		return "", false
	}
	s, ok := n.Property.(*ast.StringNode)
	if !ok {
		return "", false
	}
	return s.Value, true
}

// flattenData rewrites data.<field> to the identifier "data.<field>".
type flattenData struct{}

func (flattenData) Visit(n *ast.Node) {
	if m, ok := (*n).(*ast.MemberNode); ok {
		if f, ok := dataField(m); ok {
			ast.Patch(n, &ast.IdentifierNode{Value: dataPrefix + f})
		}
	}
}

// wrap positions an expr error: expr counts in runes from the start of the
// expression, which the span maps back into the file.
func (s span) wrap(what string, err error) *yamlpos.Error {
	var fe *file.Error
	if errors.As(err, &fe) {
		return &yamlpos.Error{Pos: s.at(fe.From), Msg: what + ": " + fe.Message, Err: err}
	}
	return &yamlpos.Error{Pos: s.start, Msg: what + ": " + err.Error(), Err: err}
}

// resultKind is the static type of a compiled expression's result, or
// Interface when only the run can tell.
func (p *program) resultKind() reflect.Kind {
	if t := p.prog.Node().Type(); t != nil {
		return t.Kind()
	}
	return reflect.Interface
}

// field is an event field a pre-check can read without the VM.
type field uint8

const (
	fieldSource field = iota
	fieldType
	fieldCode
	fieldID
)

var fieldNames = map[string]field{"source": fieldSource, "type": fieldType, "code": fieldCode, "id": fieldID}

func (f field) of(ev *herald.Event) string {
	switch f {
	case fieldSource:
		return ev.Source
	case fieldType:
		return ev.Type
	case fieldCode:
		return ev.Code
	}
	return ev.ID
}

// errKind explains a result of the wrong type.
func errKind(what string, got any, want string) error {
	return fmt.Errorf("%s: expression yields %T, want %s", what, got, want)
}
