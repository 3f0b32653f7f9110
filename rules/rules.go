package rules

import (
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
}

// Set is one loaded, compiled rules file. It is immutable and safe for
// concurrent use.
type Set struct {
	file    string
	rules   []*rule
	ingress []IngressSpec
	tests   []testCase
	journal JournalSettings
	names   []string  // environment entries any expression reads
	pool    sync.Pool // of *state
}

// IngressSpec is one instance of the file's ingress: section.
type IngressSpec struct {
	// Name is the instance name (the mapping key); it becomes Event.Source.
	Name string
	// Type is the registered ingress type.
	Type string
	// Path is the URL path the instance is mounted at.
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
	// Errors lists rules skipped because their expressions failed on this event.
	Errors []RuntimeError
}

// RuntimeError is a rule skipped for one event.
type RuntimeError struct {
	// Rule is the rule's name.
	Rule string
	// Pos points at the failing expression (or the rule, when the failure
	// is not an expression's, e.g. no code to send to).
	Pos yamlpos.Pos
	Err error
}

func (e RuntimeError) Error() string {
	return e.Pos.String() + `: rule "` + e.Rule + `": ` + e.Err.Error()
}

// Empty returns a Set with no rules: only the default route applies.
func Empty() *Set { return &Set{} }

// File is the name the set was loaded from.
func (s *Set) File() string { return s.file }

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
