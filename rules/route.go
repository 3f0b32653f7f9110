package rules

import (
	"errors"
	"fmt"
	"maps"

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
		var v any
		switch name {
		case "source":
			v = ev.Source
		case "type":
			v = ev.Type
		case "code":
			v = ev.Code
		case "id":
			v = ev.ID
		case "data":
			v = ev.Data
		case "headers":
			v = ev.Headers
		case "time":
			v = ev.Received
		}
		st.env[name] = v
	}
	return st
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
// modifies ev or its maps. A rule that fails on ev is skipped and listed
// in Result.Errors; the event then goes on to the next rule.
func (s *Set) Route(ev herald.Event) Result {
	var res Result
	var st *state
	for _, r := range s.rules {
		ok, err := s.matches(r, &ev, &st)
		if err == nil && ok && !r.drop {
			err = s.act(r, &ev, &st, &res)
		}
		if err != nil {
			res.Errors = append(res.Errors, runtimeError(r, err))
			continue
		}
		if !ok {
			continue
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

// act appends r's deliveries for ev to res, or nothing when any of its
// expressions fails.
func (s *Set) act(r *rule, ev *herald.Event, st **state, res *Result) error {
	name := EventName(ev.Type)
	if r.emit.prog != nil || r.emit.lit != "" {
		v, err := s.eval(r.emit, ev, st)
		if err != nil {
			return err
		}
		if len(v) != 1 {
			return fmt.Errorf("%s: expression yields %d names, want one", r.emit.prog.what, len(v))
		}
		name = v[0]
	}
	rooms := []string{ev.Code}
	if r.to != nil {
		rooms = rooms[:0]
		for _, t := range r.to {
			v, err := s.eval(t, ev, st)
			if err != nil {
				return err
			}
			rooms = append(rooms, v...)
		}
	}
	for _, room := range rooms {
		if room == "" {
			if r.to == nil {
				return errNoCode
			}
			return errors.New("to: empty room name")
		}
	}
	payload, err := s.payload(r, ev, st)
	if err != nil {
		return err
	}
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
// shared with every other rule and delivery, so it is never written.
func (s *Set) payload(r *rule, ev *herald.Event, st **state) (map[string]any, error) {
	if len(r.set) == 0 {
		return ev.Data, nil
	}
	out := make(map[string]any, len(ev.Data)+len(r.set))
	maps.Copy(out, ev.Data)
	for _, f := range r.set {
		v, err := s.run(f.prog, ev, st)
		if err != nil {
			return nil, err
		}
		out[f.key] = v
	}
	return out, nil
}

// eval yields the string(s) of a literal or expression target.
func (s *Set) eval(t target, ev *herald.Event, st **state) ([]string, error) {
	if t.prog == nil {
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

func runtimeError(r *rule, err error) RuntimeError {
	re := RuntimeError{Rule: r.name, Pos: r.pos, Err: err}
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
