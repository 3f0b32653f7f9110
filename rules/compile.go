package rules

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/yamlpos"
)

// exprTag marks an emit or to value as an expression rather than a literal.
const exprTag = "!expr"

// exprEnv declares the names an expression may use and their types. It is
// a map rather than a struct on purpose: expr checks names and types the
// same way for both, but loads map entries with one map lookup and no
// reflection, which keeps a rule that does not match free of allocations.
var exprEnv = map[string]any{
	"source":  "",
	"type":    "",
	"code":    "",
	"id":      "",
	"data":    map[string]any{},
	"headers": map[string]string{},
	"time":    time.Time{},
}

// program is one compiled expression and where it came from.
type program struct {
	prog *vm.Program
	what string // "when", "emit", "set.text": for messages
	span span
}

// compile compiles src, reporting errors at their own position in the file.
func compile(src string, what string, sp span, asBool bool) (*program, error) {
	opts := []expr.Option{expr.Env(exprEnv)}
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, sp.wrap(what, err)
	}
	return &program{prog: prog, what: what, span: sp}, nil
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

// eqCheck is a top-level `field == "literal"` conjunct of a when
// expression. Most rules start with one (`source == "kofi" && ...`), and
// checking it on the Go string first lets a rule that cannot match cost a
// string compare instead of a VM run.
type eqCheck struct {
	field field
	want  string
}

// preChecks splits a when expression into its literal equality conjuncts;
// complete is true when nothing else is left, so the VM need not run.
func preChecks(n ast.Node) (checks []eqCheck, complete bool) {
	complete = true
	var walk func(n ast.Node)
	walk = func(n ast.Node) {
		if b, ok := n.(*ast.BinaryNode); ok {
			switch b.Operator {
			case "&&", "and":
				walk(b.Left)
				walk(b.Right)
				return
			case "==":
				if c, ok := eqOf(b.Left, b.Right); ok {
					checks = append(checks, c)
					return
				}
				if c, ok := eqOf(b.Right, b.Left); ok {
					checks = append(checks, c)
					return
				}
			}
		}
		complete = false
	}
	walk(n)
	return checks, complete
}

func eqOf(l, r ast.Node) (eqCheck, bool) {
	id, ok := l.(*ast.IdentifierNode)
	if !ok {
		return eqCheck{}, false
	}
	s, ok := r.(*ast.StringNode)
	if !ok {
		return eqCheck{}, false
	}
	f, ok := fieldNames[id.Value]
	return eqCheck{field: f, want: s.Value}, ok
}

// errKind explains a result of the wrong type.
func errKind(what string, got any, want string) error {
	return fmt.Errorf("%s: expression yields %T, want %s", what, got, want)
}
