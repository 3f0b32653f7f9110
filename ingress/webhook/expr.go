package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/internal/yamlpos"
)

// Env is what the event, id and code expressions see.
type Env struct {
	// Headers are the request headers, canonical names, first value:
	// headers["X-Github-Event"]. header("x-github-event") canonicalises.
	Headers map[string]string `expr:"headers"`
	// Data is the parsed body: a JSON object, a form's fields, or
	// {"payload": v} for a JSON value that is not an object.
	Data map[string]any `expr:"data"`
	// Body is the raw body.
	Body string `expr:"body"`
	// Query holds the URL query parameters, first value.
	Query map[string]string `expr:"query"`
	// Header looks a header up by any spelling of its name.
	Header func(name string) string `expr:"header"`
}

// program is one compiled expression with where it came from.
type program struct {
	prog *vm.Program
	pos  yamlpos.Pos
	key  string
}

// compile compiles the expression in n (the value of key) once, at load.
// A nil n gives a nil program.
func compile(file, key string, n *yaml.Node) (*program, error) {
	if n == nil {
		return nil, nil
	}
	if n.Kind != yaml.ScalarNode || n.Value == "" {
		return nil, yamlpos.Errorf(yamlpos.At(file, n), "%s: expected an expression, got %s", key, yamlpos.KindName(n))
	}
	prog, err := expr.Compile(n.Value, expr.Env(Env{}))
	if err != nil {
		return nil, exprError(file, key, n, err)
	}
	return &program{prog: prog, pos: yamlpos.At(file, n), key: key}, nil
}

// exprError positions a compile error inside the scalar that holds the
// expression: expr's line is 1-based and its column 0-based.
func exprError(fname, key string, n *yaml.Node, err error) error {
	pos := yamlpos.At(fname, n)
	msg := err.Error()
	var fe *file.Error
	if errors.As(err, &fe) {
		msg = fe.Message
		switch n.Style {
		case 0, yaml.FlowStyle:
			if fe.Line == 1 {
				pos.Col += fe.Column
			}
		case yaml.SingleQuotedStyle:
			if fe.Line == 1 {
				pos.Col += fe.Column + 1
			}
		case yaml.LiteralStyle, yaml.FoldedStyle:
			// The text starts on the line after the indicator; its
			// indentation is not known here, so the column is left out.
			pos.Line, pos.Col = n.Line+fe.Line, 0
		}
		// Double-quoted scalars may hold escapes, so offsets stop
		// matching: keep the scalar's start.
	}
	return yamlpos.Errorf(pos, "%s: %s", key, msg)
}

// eval runs p and turns its result into a string: numbers and booleans
// are formatted, nil is "".
func (p *program) eval(env *Env) (string, error) {
	if p == nil {
		return "", nil
	}
	out, err := expr.Run(p.prog, env)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p.key, err)
	}
	switch v := out.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case int:
		return strconv.Itoa(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	return "", fmt.Errorf("%s: expression gave %T, want a string", p.key, out)
}

// newEnv flattens the request parts the expressions see.
func newEnv(r *http.Request, data map[string]any, body []byte) *Env {
	env := &Env{Headers: make(map[string]string, len(r.Header)), Data: data, Body: string(body), Query: map[string]string{}}
	for k, v := range r.Header {
		if len(v) > 0 {
			env.Headers[k] = v[0]
		}
	}
	env.Header = func(name string) string { return env.Headers[http.CanonicalHeaderKey(name)] }
	for k, v := range r.URL.Query() {
		env.Query[k] = v[0]
	}
	return env
}
