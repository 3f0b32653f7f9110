// Package rules loads rules.yaml and routes events with it: which rules
// match an event (expr filters), and the deliveries they produce (renames,
// fan-out, computed fields, drops). It also runs the tests a rules file
// carries and watches the file for changes.
//
// # File format
//
//	version: 1                    # required; the only version so far
//	ingress:                      # optional: instance name -> block
//	  kofi:                       # name: [a-z0-9_-]+, becomes Event.Source
//	    type: kofi                # required: registered ingress type
//	    path: /webhooks/kofi      # required: URL path, starts with /
//	    verification_token: ${KOFI_TOKEN}   # adapter's own keys
//	rules:                        # optional: tried in order
//	  - name: big-donation        # required, unique
//	    when: type == "Donation" && data.amount >= 10   # expr, boolean
//	    emit: BIG_DONATION        # event name; literal, or !expr <expr>
//	    to: [alerts, chat]        # room(s); literals and/or !expr items
//	    set:                      # payload fields: "text", or exprs
//	      text: "{{ from_name }} sent {{ amount }}"
//	      thanks: "Thank you!"    # double quotes: text, {{ }} or not
//	      pounds: float(data.amount)
//	    continue: true            # let later rules act too
//	    pending_window: 1h        # its alerts' pending window; 0: none
//	  - name: no-tests
//	    when: data.is_test == true
//	    drop: true                # stop here, deliver nothing more
//	tests:                        # optional: run by herald check and go test
//	  - name: ten pounds is big
//	    event: {source: kofi, type: Donation, data: {amount: 10}}
//	    expect:                   # [] means dropped or unrouted
//	      - {room: alerts, name: BIG_DONATION, payload: {amount: 10}}
//
// # Semantics
//
// Rules are tried in file order and the first match wins: a matching rule
// acts and routing stops, unless the rule says continue: true. First match
// wins is the default because it is what users expect from a list of
// "if this, do that" lines (and from firewalls and mail filters); fan-out
// within one rule is what `to` is for, and continue chains are explicit.
//
// A rule without when matches every event. emit defaults to the event's
// own type normalised by EventName; to defaults to the event's own code
// (an event without one makes that rule fail for that event). The payload
// is the event's data, or a copy of it with the set fields added.
//
// drop: true ends routing; deliveries already made by earlier continue
// rules stand. A catch-all rule at the end (no when, drop: true) turns the
// default route off.
//
// When no rule acted on an event (none matched, or the ones that matched
// failed), the default route applies: an event with a code goes to the
// room named by its code under EventName(type) with its data as payload,
// which is what the seed's trigger URL does; any other event is unrouted.
//
// Rules fail safe. A runtime error in a when (a missing field compared
// with a number, say) skips that rule for that event only, and routing
// carries on with the next rule. A failing set field, to item or emit
// expression is left out (emit falls back to the event's name) and the
// alert still goes out. Every failure is reported in Result.Errors, with
// RuntimeError.Field naming the part left out.
//
// # Templates
//
// A string value containing {{ in emit, to or set is a template (see
// template.go): text with {{ field | filter }} placeholders that cannot
// fail on an event. Numbers print without .0 or exponent, a missing
// field prints as nothing.
//
// In set, a double-quoted value is a template too, {{ or not: YAML makes
// it a string and a streamer means words by it, so text: "Thanks!" is
// that text and title: "type" the word, not the event's type. Every
// other set value is an expression: unquoted (amount: float(data.amount)),
// single-quoted (text: '"Hi " + data.user') or tagged !expr, which makes
// even a double-quoted value one. A double-quoted value without {{ that
// would compile as a number, a boolean, nil, a quoted string, an event
// field or an expression that reads the event or calls a function was
// that expression before double quotes made text: it loads as text, with
// a warning in Set.Warnings saying what to write for the expression.
//
// # Checks at load
//
// With Options.Shapes, every rule is checked against the shapes of the
// events its when names (see shapes.go): unknown fields, text + number,
// arithmetic or a minus sign on text or a boolean, % on a number (a
// float to expr), a string, number or boolean field compared with a value
// or tested with in against a list of another of those kinds, a boolean
// ordered, a when that can never be true. Certain findings are errors, probable ones Set.Warnings (a
// file that does not load keeps them in its *LoadError); Set.Lint adds
// what only `herald check` reports. A type an ingress may send with no shape
// (Options.OpenTypes: any EventSub type for Twitch), or one the file
// subscribes it to, leaves its rule unchecked; a near miss of a listed
// type is warned about. With Options.Codeless, a rule with no to about
// events that carry no code (Ko-fi, Twitch) is found too: it would send
// nothing.
//
// # Literals and expressions
//
// when values are expressions, however quoted; set values are text in
// double quotes (templates), expressions otherwise (see Templates).
// emit and to are literals (or templates) unless tagged !expr, so the
// common case needs no quoting:
//
//	emit: FOLLOW                  # the name FOLLOW
//	emit: !expr upper(type)       # computed
//	to: [alerts, !expr data.room] # a literal room and a computed one
//	to: "{{ event.code }}-chat"   # a template
//
// An emit expression must yield a string; a to expression a string or a
// list of strings.
//
// # Environment
//
// ${VAR} and ${VAR:-default} are replaced in every string value of the
// file (not keys) before anything else reads it, so codes and secrets stay
// out of the file. An unset variable without a default is a load error.
// Write $${ for a literal ${.
//
// # Expression environment
//
// Expressions see source, type, code, id (strings), data (map), headers
// (map of strings) and time (time.Time), and the expr standard library
// (https://expr-lang.org). Names are checked when the file loads, so a
// typo such as dta.amount is a load error, not a silent false.
package rules
