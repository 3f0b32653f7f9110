// Package rules loads rules.yaml and routes events with it: which rules
// match an event (expr filters), and the deliveries they produce (renames,
// fan-out, computed fields, drops).
//
// PLACEHOLDER: this is the pass-through the core issue ships; the rules
// issue replaces the body but keeps this API, which the router calls.
package rules

import (
	"strings"

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
	ingress []IngressSpec
}

// IngressSpec is one instance of the file's ingress: section.
type IngressSpec struct {
	Name, Type, Path string
	// Options is the instance's whole block, ${ENV} expanded.
	Options *yaml.Node
	Pos     yamlpos.Pos
}

// Result is what routing one event produced.
type Result struct {
	Deliveries []herald.Delivery
	// Matched names the rules that matched, in order.
	Matched []string
	// Dropped is true when a drop rule matched.
	Dropped bool
	// Unrouted is true when no rule matched and no default route applied.
	Unrouted bool
	// Errors lists rules skipped because their expressions failed on this event.
	Errors []RuntimeError
}

// RuntimeError is a rule skipped for one event.
type RuntimeError struct {
	Rule string
	Pos  yamlpos.Pos
	Err  error
}

// Empty returns a Set with no rules: only the default route applies.
func Empty() *Set { return &Set{} }

// Parse loads a rules file. Every error is a yamlpos.List.
func Parse(file string, data []byte, opts Options) (*Set, error) {
	return &Set{file: file}, nil
}

// File is the name the set was loaded from.
func (s *Set) File() string { return s.file }

// Len is the number of rules.
func (s *Set) Len() int { return 0 }

// Ingress lists the declared ingress instances.
func (s *Set) Ingress() []IngressSpec { return s.ingress }

// Route applies the rules to ev.
func (s *Set) Route(ev herald.Event) Result {
	if ev.Code == "" {
		return Result{Unrouted: true}
	}
	return Result{Deliveries: []herald.Delivery{DefaultDelivery(ev)}}
}

// DefaultDelivery is the route of an event no rule matched that names its
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
