package rules

import (
	"regexp"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/yamlpos"
)

// Options tunes Parse.
type Options struct {
	// Getenv resolves ${VAR} references; nil means os.LookupEnv.
	Getenv func(string) (string, bool)
	// Shapes returns the shapes of the events an ingress type produces;
	// false means the type is dynamic (anything goes). nil checks nothing.
	Shapes func(ingressType string) ([]herald.Shape, bool)
	// OpenTypes returns the pattern of the event types an ingress type may
	// send beyond its shapes (nil: none): a rule about one is not checked,
	// and only a near miss of a listed type is warned about. nil means no
	// ingress type has any.
	OpenTypes func(ingressType string) *regexp.Regexp
	// Codeless reports whether the events of an ingress type carry no code
	// (herald.Event.Code) unless the instance sets the option unless (""
	// for never): a rule about only such events that has no to could never
	// send one, and is an error. nil checks nothing.
	Codeless func(ingressType string) (unless string, codeless bool)
	// Builtin lists the ingress instances the server runs without the
	// file declaring them, by name: {"trigger": "trigger"} for /notify.
	Builtin map[string]string
}

// Set is one loaded, compiled rules file. It is immutable and safe for
// concurrent use.
type Set struct {
	rules   []*rule
	ingress []IngressSpec
	tests   []testCase
	// warnings are what loading found probable but not certain.
	warnings yamlpos.List
	journal  JournalSettings
	names    []string  // environment entries any expression reads
	pool     sync.Pool // of *state
}

// IngressSpec is one instance of the file's ingress: section.
type IngressSpec struct {
	// Name is the instance name (the mapping key); it becomes Event.Source.
	Name string
	// Type is the registered ingress type.
	Type string
	// Path is the URL path the instance is mounted at; "" when the file
	// gives none (allowed only for adapters that serve no path).
	Path string
	// Options is a copy of the instance's block without the type and path
	// keys, ${ENV} expanded, positions intact. It is never nil: an instance
	// with no options of its own has an empty mapping.
	Options *yaml.Node
	// Pos is the position of the instance's name.
	Pos yamlpos.Pos
}

// Result is what routing one event produced.
type Result struct {
	// Deliveries are the messages to hand to egress, in rule order.
	Deliveries []herald.Delivery
	// Matched names the rules that matched and acted, in order.
	Matched []string
	// Dropped is true when a drop rule matched.
	Dropped bool
	// Unrouted is true when no rule acted and no default route applied.
	Unrouted bool
	// Errors lists what failed on this event: a rule skipped because its
	// when failed (Field ""), or a part of a rule left out while its alert
	// still went out (Field "emit", "to", "set.<key>").
	Errors []RuntimeError
}

// RuntimeError is a rule, or a part of one, that failed on one event.
type RuntimeError struct {
	// Rule is the rule's name.
	Rule string
	// Field is the part left out ("emit", "to", "set.text"); "" when the
	// whole rule was skipped.
	Field string
	// Pos points at the failing expression (or the rule, when the failure
	// is not an expression's, e.g. no code to send to).
	Pos yamlpos.Pos
	Err error
}

func (e RuntimeError) Error() string {
	msg, named := e.Err.Error(), `rule "`+e.Rule+`": `
	if strings.HasPrefix(msg, named) { // an expression's message names its rule already
		return e.Pos.String() + ": " + msg
	}
	return e.Pos.String() + ": " + named + msg
}

// Skipped reports whether the whole rule was skipped (its when failed, or
// its alert had nowhere to go), not just a part left out.
func (e RuntimeError) Skipped() bool { return e.Field == "" }

// Empty returns a Set with no rules: only the default route applies.
func Empty() *Set { return &Set{} }

// LoadError is Parse's error for a file that does not load: the errors,
// sorted by position, and the warnings found along with them (what
// Set.Warnings would have listed), so `herald check` can show both. It
// reads as the errors alone, and errors.As finds them as a yamlpos.List.
type LoadError struct {
	Errors   yamlpos.List
	Warnings yamlpos.List
}

func (e *LoadError) Error() string { return e.Errors.Error() }

// Unwrap returns the errors.
func (e *LoadError) Unwrap() error { return e.Errors }

// Warnings lists what loading found suspicious but not certainly wrong
// (a field the event type probably never has, say), sorted by position.
func (s *Set) Warnings() yamlpos.List { return s.warnings.Sort() }

// Warn adds warnings found beyond the rules themselves (an ingress
// factory's, see ingress.Params.Warnings) while the set is being built,
// before anything reads it.
func (s *Set) Warn(l yamlpos.List) { s.warnings = append(s.warnings, l...) }

// Len is the number of rules.
func (s *Set) Len() int { return len(s.rules) }

// Rules lists the rule names in file order.
func (s *Set) Rules() []string {
	names := make([]string, len(s.rules))
	for i, r := range s.rules {
		names[i] = r.name
	}
	return names
}

// Ingress lists the declared ingress instances in file order.
func (s *Set) Ingress() []IngressSpec { return s.ingress }

// DefaultDelivery is the route of an event no rule acted on that names its
// own code (the trigger URL): the seed's behaviour.
func DefaultDelivery(ev herald.Event) herald.Delivery {
	return herald.Delivery{
		EventID: ev.ID, Source: ev.Source, Room: ev.Code,
		Name: EventName(ev.Type), Payload: ev.Data, Time: ev.Received,
	}
}

// EventName is the seed's normalisation of an event name: upper case,
// spaces to underscores.
func EventName(s string) string {
	return strings.ReplaceAll(strings.ToUpper(s), " ", "_")
}
