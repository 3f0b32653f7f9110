package rules

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/expr-lang/expr/vm"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/yamlpos"
)

// state is what running expressions for one event needs: a VM whose stack
// is reused and the event as the expression environment. Sets pool them,
// so routing fills the environment once per event at most and allocates
// nothing per rule.
type state struct {
	vm  vm.VM
	env map[string]any
}

func (s *Set) state(ev *herald.Event) *state {
	st, _ := s.pool.Get().(*state)
	if st == nil {
		st = &state{env: make(map[string]any, len(s.names))}
	}
	for _, name := range s.names {
		st.env[name] = eventField(ev, name)
	}
	return st
}

// eventField is the event's top-level field name as rules see it, in
// expressions (source, data, time, …) and in templates (event.source);
// nil for a name the event does not have.
func eventField(ev *herald.Event, name string) any {
	switch name {
	case "source":
		return ev.Source
	case "type":
		return ev.Type
	case "code":
		return ev.Code
	case "id":
		return ev.ID
	case "data":
		return ev.Data
	case "headers":
		return ev.Headers
	case "time":
		return ev.Received
	}
	return nil
}

func (s *Set) release(st *state) {
	if st == nil {
		return
	}
	clear(st.env) // do not keep the event's data alive in the pool
	s.pool.Put(st)
}

// run evaluates p for the event, preparing the environment on first use.
func (s *Set) run(p *program, ev *herald.Event, st **state) (any, error) {
	if *st == nil {
		*st = s.state(ev)
	}
	out, err := (*st).vm.Run(p.prog, (*st).env)
	if err != nil {
		return nil, p.span.wrap(p.what, err)
	}
	return out, nil
}

// Route applies the rules to ev. It is safe for concurrent use and never
// modifies ev or its maps.
//
// Only a failing when skips a rule (listed in Result.Errors; the event
// goes on to the next rule). A failing emit falls back to the event's own
// name, a failing to item or set field is left out, and the alert still
// goes out: each failure is listed in Result.Errors with its Field.
func (s *Set) Route(ev herald.Event) Result {
	var res Result
	var st *state
	for _, r := range s.rules {
		ok, err := s.matches(r, &ev, &st)
		if err != nil {
			res.Errors = append(res.Errors, runtimeError(r, "", err))
			continue
		}
		if !ok {
			continue
		}
		if !r.drop {
			if err := s.act(r, &ev, &st, &res); err != nil {
				res.Errors = append(res.Errors, runtimeError(r, "", err))
				continue
			}
		}
		res.Matched = append(res.Matched, r.name)
		if r.drop {
			res.Dropped = true
			break
		}
		if !r.cont {
			break
		}
	}
	s.release(st)
	if len(res.Matched) == 0 {
		if ev.Code == "" {
			res.Unrouted = true
		} else {
			res.Deliveries = append(res.Deliveries, DefaultDelivery(ev))
		}
	}
	return res
}

// matches decides r's when for ev.
func (s *Set) matches(r *rule, ev *herald.Event, st **state) (bool, error) {
	if r.when == nil {
		return true, nil
	}
	out, err := s.run(r.when, ev, st)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, errKind(r.when.what, out, "true or false")
	}
	return b, nil
}

// act appends r's deliveries for ev to res. Its parts fail safe (see
// Route); it returns an error only when the alert has nowhere to go.
func (s *Set) act(r *rule, ev *herald.Event, st **state, res *Result) error {
	name := EventName(ev.Type)
	if r.emit.prog != nil || r.emit.tmpl != nil || r.emit.lit != "" {
		v, err := s.eval(r.emit, ev, st)
		switch {
		case err != nil:
			res.Errors = append(res.Errors, runtimeError(r, "emit", err))
		case len(v) != 1 || v[0] == "":
			res.Errors = append(res.Errors, runtimeError(r, "emit", fmt.Errorf("emit: yields %q, want one name; sent as %s", v, name)))
		default:
			if err := herald.CheckName(v[0]); err != nil {
				res.Errors = append(res.Errors, runtimeError(r, "emit", fmt.Errorf("emit: %w; sent as %s", err, name)))
				break
			}
			name = v[0]
		}
	}
	rooms := []string{ev.Code}
	if r.to != nil {
		rooms = rooms[:0]
		var failed []error
		for _, t := range r.to {
			v, err := s.eval(t, ev, st)
			if err == nil && slices.Contains(v, "") {
				err = errors.New("to: empty room name")
			}
			if err != nil {
				failed = append(failed, err)
				continue
			}
			rooms = append(rooms, v...)
		}
		if len(rooms) == 0 {
			// Not "left out": with no room the rule does nothing, and
			// reporting its items as parts of an alert that went out
			// would say so wrongly.
			if len(failed) > 0 {
				return fmt.Errorf("to: no room to send to (%v)", failed[0])
			}
			return errors.New("to: no room to send to")
		}
		for _, err := range failed {
			res.Errors = append(res.Errors, runtimeError(r, "to", err))
		}
	} else if ev.Code == "" {
		return errNoCode
	}
	payload := s.payload(r, ev, st, res)
	for _, room := range rooms {
		res.Deliveries = append(res.Deliveries, herald.Delivery{
			EventID: ev.ID, Source: ev.Source, Room: room, Name: name,
			Payload: payload, Time: ev.Received, Rule: r.name,
		})
	}
	return nil
}

var errNoCode = errors.New("the event has no code and the rule has no to")

// payload is ev.Data, or a copy of it with r's set fields: ev.Data is
// shared with every other rule and delivery, so it is never written. A
// field whose expression fails is left out and listed in res.Errors.
func (s *Set) payload(r *rule, ev *herald.Event, st **state, res *Result) map[string]any {
	if len(r.set) == 0 {
		return ev.Data
	}
	out := make(map[string]any, len(ev.Data)+len(r.set))
	maps.Copy(out, ev.Data)
	for _, f := range r.set {
		if f.tmpl != nil {
			out[f.key] = f.tmpl.render(ev)
			continue
		}
		if f.prog == nil {
			continue
		}
		v, err := s.run(f.prog, ev, st)
		if err != nil {
			res.Errors = append(res.Errors, runtimeError(r, "set."+f.key, err))
			continue
		}
		out[f.key] = v
	}
	return out
}

// eval yields the string(s) of a literal, template or expression target.
func (s *Set) eval(t target, ev *herald.Event, st **state) ([]string, error) {
	switch {
	case t.tmpl != nil:
		return []string{t.tmpl.render(ev)}, nil
	case t.prog == nil:
		return []string{t.lit}, nil
	}
	out, err := s.run(t.prog, ev, st)
	if err != nil {
		return nil, err
	}
	switch v := out.(type) {
	case string:
		return []string{v}, nil
	case []string:
		return v, nil
	case []any:
		strs := make([]string, len(v))
		for i, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, errKind(t.prog.what, x, "a string")
			}
			strs[i] = s
		}
		return strs, nil
	}
	return nil, errKind(t.prog.what, out, "a string or a list of strings")
}

func runtimeError(r *rule, field string, err error) RuntimeError {
	re := RuntimeError{Rule: r.name, Field: field, Pos: r.pos, Err: err}
	var pe *yamlpos.Error
	if errors.As(err, &pe) {
		re.Pos, re.Err = pe.Pos, exprError{msg: pe.Msg, err: pe.Err}
	}
	return re
}

// exprError is an expression's failure without its position, which
// RuntimeError carries separately.
type exprError struct {
	msg string
	err error
}

func (e exprError) Error() string { return e.msg }
func (e exprError) Unwrap() error { return e.err }
