package rules

import (
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// JournalSettings is the rules file's top-level journal: section: how much
// alert history herald keeps and how long a page may be away and still get
// what it missed. Zero fields mean "the default" (the journal's own: 200
// entries, 24 h, a 10-minute recovery window, a 10-minute pending window);
// PendingOff turns pending delivery off (pending_window: 0).
//
//	journal:
//	  max_entries: 200       # per room
//	  max_age: 24h
//	  recovery_window: 10m   # Socket.IO connection state recovery
//	  pending_window: 10m    # alerts that reached no page go to the next one
//
// A rule may set its own pending_window, for the alerts it produces:
// RulePending holds those by rule name (0: that rule's alerts are never
// pending, whatever the journal: section says), nil when no rule does.
// The alerts of any other rule, of a rule renamed or removed since, and of
// the default route follow PendingWindow and PendingOff. It is shared:
// read it, never change it.
type JournalSettings struct {
	MaxEntries     int
	MaxAge         time.Duration
	RecoveryWindow time.Duration
	PendingWindow  time.Duration
	PendingOff     bool
	RulePending    map[string]time.Duration
}

// Journal returns the file's journal: section (all zero when it has none).
func (s *Set) Journal() JournalSettings { return s.journal }

func (p *parser) journalSection(n *yaml.Node) {
	f := p.fields(n, "journal", []string{"max_entries", "max_age", "recovery_window", "pending_window"})
	if f == nil {
		return
	}
	j := &p.set.journal
	if v := f["max_entries"]; v != nil {
		i, err := strconv.Atoi(v.Value)
		if v.Kind != yaml.ScalarNode || err != nil || i < 1 || i > 1_000_000 {
			p.errorf(v, "journal.max_entries: expected a whole number from 1 to 1000000, got %s", describe(v))
		}
		j.MaxEntries = i
	}
	j.MaxAge = p.duration(f["max_age"], "journal.max_age", false)
	j.RecoveryWindow = p.duration(f["recovery_window"], "journal.recovery_window", false)
	j.PendingWindow = p.duration(f["pending_window"], "journal.pending_window", true)
	j.PendingOff = f["pending_window"] != nil && j.PendingWindow == 0
}

// duration reads a Go duration ("90s", "10m", "24h"); zero is refused
// unless zeroOK (where it means "off").
func (p *parser) duration(n *yaml.Node, what string, zeroOK bool) time.Duration {
	if n == nil {
		return 0
	}
	var d time.Duration
	var err error
	if n.Kind == yaml.ScalarNode {
		if n.Value == "0" {
			d = 0
		} else {
			d, err = time.ParseDuration(n.Value)
		}
	}
	switch {
	case n.Kind != yaml.ScalarNode || err != nil:
		p.errorf(n, "%s: expected a duration like 90s, 10m or 24h, got %s", what, describe(n))
	case d < 0 && zeroOK:
		p.errorf(n, "%s: must not be negative (0 turns it off)", what)
	case d < 0 || (d == 0 && !zeroOK):
		p.errorf(n, "%s: must be more than 0", what)
	case d > 366*24*time.Hour:
		p.errorf(n, "%s: at most a year", what)
	}
	return d
}
