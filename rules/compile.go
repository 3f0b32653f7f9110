package rules

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/heraldhq/herald/internal/yamlpos"
)

// exprTag marks an emit or to value as an expression rather than a literal.
const exprTag = "!expr"

// envTypes declares the names an expression may use and their types, so
// a typo such as dta.amount is a load error. It is a map, not a struct:
// expr reads a map entry with one lookup where struct fields go through
// reflection.
var envTypes = map[string]any{
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
	prog  *vm.Program
	src   string
	what  string // "when", "emit", "set.text": for messages
	cond  bool   // a when: its advice is about logic, not text
	span  span
	names []string // environment entries it reads
}

// compileExpr compiles src with expr's public API, reporting errors at
// their own position in the file. Measured on realistic files (tens of
// rules, see bench_test.go) plain expr costs tens of nanoseconds per
// rule, so no pre-evaluation or tree rewriting sits in front of it.
func compileExpr(src, what string, sp span, asBool bool) (*program, error) {
	opts := []expr.Option{expr.Env(envTypes)}
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, sp.wrap(what, err)
	}
	return &program{prog: prog, src: src, what: what, cond: asBool, span: sp, names: envNames(prog.Node())}, nil
}

// envNames lists the environment names an expression reads, so routing
// fills only those.
func envNames(n ast.Node) []string {
	v := &nameCollector{}
	ast.Walk(&n, v)
	return v.names
}

type nameCollector struct{ names []string }

func (c *nameCollector) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok {
		if _, known := envTypes[id.Value]; known && !slices.Contains(c.names, id.Value) {
			c.names = append(c.names, id.Value)
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

// errKind explains a result of the wrong type.
func errKind(what string, got any, want string) error {
	return fmt.Errorf("%s: expression yields %T, want %s", what, got, want)
}
