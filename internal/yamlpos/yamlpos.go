// Package yamlpos gives configuration errors a file:line:col position, the
// way go/scanner does for source code, and decodes YAML nodes strictly so an
// unknown or misspelt key is an error at its own position.
package yamlpos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Pos is a place in a file. Line and Col are 1-based; Col 0 means unknown.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// At returns the position of node n in file.
func At(file string, n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: file}
	}
	return Pos{File: file, Line: n.Line, Col: n.Column}
}

// ValueAt returns the position of key's value in mapping n, or of n itself
// when n is nil, not a mapping, or lacks the key: where an error about that
// setting should point.
func ValueAt(file string, n *yaml.Node, key string) Pos {
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return At(file, n.Content[i+1])
			}
		}
	}
	return At(file, n)
}

// Error is one positioned error.
type Error struct {
	Pos Pos
	Msg string
	Err error // the underlying cause, if any
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds a positioned *Error.
func Errorf(pos Pos, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// List collects positioned errors; its Error prints one per line, sorted.
type List []*Error

// maxListed caps how many lines List.Error prints.
const maxListed = 20

// Add appends a positioned error.
func (l *List) Add(pos Pos, format string, args ...any) {
	*l = append(*l, Errorf(pos, format, args...))
}

// Append adds err: a List is flattened, an *Error kept, anything else
// wrapped at pos.
func (l *List) Append(pos Pos, err error) {
	var list List
	var one *Error
	switch {
	case err == nil:
	case errors.As(err, &list):
		*l = append(*l, list...)
	case errors.As(err, &one):
		*l = append(*l, one)
	default:
		*l = append(*l, &Error{Pos: pos, Msg: err.Error(), Err: err})
	}
}

// Sort orders by position and removes exact duplicates.
func (l List) Sort() List {
	slices.SortStableFunc(l, func(a, b *Error) int {
		if c := strings.Compare(a.Pos.File, b.Pos.File); c != 0 {
			return c
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		return a.Pos.Col - b.Pos.Col
	})
	return slices.CompactFunc(l, func(a, b *Error) bool { return a.Error() == b.Error() })
}

// Err returns nil for an empty list and the sorted list otherwise.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l.Sort()
}

func (l List) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i == maxListed {
			fmt.Fprintf(&b, "(and %d more errors)", len(l)-maxListed)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is and errors.As see every error in the list.
func (l List) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// yaml.v3 prefixes syntax errors with "yaml: " and type errors (one per
// line of a *yaml.TypeError) with nothing; both may carry "line N: ".
var yamlLine = regexp.MustCompile(`^(?:yaml: )?(?:line (\d+): )?`)

// SyntaxError turns an error from yaml.Unmarshal into a positioned one:
// yaml.v3 reports syntax errors as "yaml: line N: msg" with no column.
func SyntaxError(file string, err error) *Error {
	msg := err.Error()
	pos := Pos{File: file}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		if m[1] != "" {
			pos.Line, _ = strconv.Atoi(m[1])
		}
		msg = msg[len(m[0]):]
	}
	if pos.Line == 0 {
		pos.Line = 1
	}
	return &Error{Pos: pos, Msg: msg, Err: err}
}

// DecodeStrict decodes mapping node n into the struct pointed to by out,
// first reporting every key that out's yaml tags do not name, at the key's
// own position (yaml.Node.Decode silently ignores unknown keys). A nil node
// leaves out untouched.
func DecodeStrict(file string, n *yaml.Node, out any) error {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return List{Errorf(At(file, n), "expected a mapping, got %s", KindName(n))}
	}
	known := tagNames(reflect.TypeOf(out))
	var errs List
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i]
		if _, ok := known[key.Value]; !ok && known != nil {
			errs.Add(At(file, key), "unknown key %q (known: %s)", key.Value, strings.Join(sortedKeys(known), ", "))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if errs = duplicateKeys(file, n); len(errs) > 0 {
		return errs
	}
	if err := n.Decode(out); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, m := range te.Errors {
				errs.Append(At(file, n), SyntaxError(file, errors.New(m)))
			}
			return errs.Err()
		}
		return List{&Error{Pos: At(file, n), Msg: err.Error(), Err: err}}
	}
	return nil
}

// duplicateKeys reports a key repeated in any mapping under n at the
// repeat's own line and column: yaml.v3 finds these too, but while
// decoding, with a line and no column. Aliases are not followed; the
// mapping they name is checked where it is written.
func duplicateKeys(file string, n *yaml.Node) List {
	var errs List
	if n.Kind == yaml.MappingNode {
		first := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				continue
			}
			if f := first[k.Value]; f != nil {
				errs.Add(At(file, k), "duplicate key %q (first at %s)", k.Value, At(file, f))
				continue
			}
			first[k.Value] = k
		}
	}
	for _, c := range n.Content {
		if c.Kind != yaml.AliasNode {
			errs = append(errs, duplicateKeys(file, c)...)
		}
	}
	return errs
}

// KindName names a node kind for error messages.
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a scalar " + strconv.Quote(n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func tagNames(t reflect.Type) map[string]struct{} {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	names := map[string]struct{}{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			for k := range tagNames(f.Type) {
				names[k] = struct{}{}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		names[name] = struct{}{}
	}
	return names
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// SyntaxErrorIn is SyntaxError for an error from decoding data, with a
// better line. yaml.v3 reports a parser error at the start of the
// enclosing block, 0-based (a misindented key under a list is reported
// at the line before the list), so the line is refined to the first line
// at which a prefix of data stops parsing: where the user must look.
func SyntaxErrorIn(file string, data []byte, err error) *Error {
	e := SyntaxError(file, err)
	lines := bytes.SplitAfter(data, []byte("\n"))
	prefixFails := func(k int) bool {
		return decodeAll(bytes.Join(lines[:k], nil)) != nil
	}
	lo, hi := max(e.Pos.Line, 1), len(lines)
	if lo > hi || !prefixFails(hi) {
		return e
	}
	for lo < hi { // smallest k in [lo, hi] whose prefix fails
		mid := (lo + hi) / 2
		if prefixFails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	e.Pos.Line = lo
	return e
}

// decodeAll parses every document of data.
func decodeAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
