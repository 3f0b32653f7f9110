// Package examples holds the example rules files. Its default.yaml is the
// file herald runs when no rules file is given: it keeps the original
// service's behaviour exactly (trigger events go to their own code, nothing
// else is routed). rules.yaml shows each rule action, with Ko-fi and Twitch
// rules ready to uncomment; twitch/ and kofi/ are complete setups.
package examples

import _ "embed"

// DefaultRules is examples/default.yaml, the rules herald runs without a
// rules file of its own.
//
//go:embed default.yaml
var DefaultRules []byte
