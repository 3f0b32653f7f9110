package router

import (
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/rules"
)

// ruleErrorLogInterval is how often one rule's failures are logged: a
// rule that fails on every event of a busy stream would otherwise write a
// line per event, and the first line says all there is to say.
const ruleErrorLogInterval = time.Minute

// RuleErrors is one rule's runtime failures since start, for /api/rules.
type RuleErrors struct {
	// Count is how many failures the rule met (a skipped rule or a part
	// left out: a set field, a to item, an emit).
	Count uint64 `json:"count"`
	// Skipped is how many of them skipped the whole rule (its when failed).
	Skipped uint64 `json:"skipped"`
	// Last is the last failure, positioned.
	Last   string    `json:"last"`
	LastAt time.Time `json:"last_at"`
}

// ruleErrors counts failures per rule and rate-limits logging them.
type ruleErrors struct {
	mu       sync.Mutex
	byRule   map[string]RuleErrors
	loggedAt map[string]time.Time
	unlogged map[string]uint64 // failures since the last logged line
}

// record counts the failures of one event and logs each rule's at most
// once per ruleErrorLogInterval.
func (re *ruleErrors) record(log *slog.Logger, now time.Time, ev herald.Event, errs []rules.RuntimeError) {
	re.mu.Lock()
	defer re.mu.Unlock()
	if re.byRule == nil {
		re.byRule, re.loggedAt, re.unlogged = map[string]RuleErrors{}, map[string]time.Time{}, map[string]uint64{}
	}
	for _, e := range errs {
		st := re.byRule[e.Rule]
		st.Count++
		if e.Skipped() {
			st.Skipped++
		}
		st.Last, st.LastAt = e.Error(), now
		re.byRule[e.Rule] = st
		if last, ok := re.loggedAt[e.Rule]; ok && now.Sub(last) < ruleErrorLogInterval {
			re.unlogged[e.Rule]++
			continue
		}
		what := "rule part left out; the alert still went out"
		if e.Skipped() {
			what = "rule skipped"
		}
		log.Warn(what, "rule", e.Rule, "field", e.Field, "pos", e.Pos.String(), "event_id", ev.ID,
			"err", e.Err, "since_last_logged", re.unlogged[e.Rule])
		re.loggedAt[e.Rule] = now
		re.unlogged[e.Rule] = 0
	}
}

func (re *ruleErrors) snapshot() map[string]RuleErrors {
	re.mu.Lock()
	defer re.mu.Unlock()
	out := maps.Clone(re.byRule)
	if out == nil {
		out = map[string]RuleErrors{}
	}
	return out
}
