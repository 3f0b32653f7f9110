// Package examples holds the example rules files. Its rules.yaml is the
// file herald runs when no rules file is given; it keeps the original
// service's behaviour (trigger events go to their own code) and shows each
// rule action, with Ko-fi and Twitch rules ready to uncomment.
package examples

import _ "embed"

// DefaultRules is examples/rules.yaml, the rules herald runs without a
// rules file of its own.
//
//go:embed rules.yaml
var DefaultRules []byte
