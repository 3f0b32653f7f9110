package rules_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/rules"
)

func TestJournalSection(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    rules.JournalSettings
		wantErr string // substring, with the position
	}{
		{name: "absent", yaml: "version: 1\n", want: rules.JournalSettings{}},
		{
			name: "every key",
			yaml: "version: 1\njournal:\n  max_entries: 50\n  max_age: 2h\n  recovery_window: 90s\n  pending_window: 5m\n",
			want: rules.JournalSettings{MaxEntries: 50, MaxAge: 2 * time.Hour, RecoveryWindow: 90 * time.Second, PendingWindow: 5 * time.Minute},
		},
		{
			name: "pending off",
			yaml: "version: 1\njournal:\n  pending_window: 0\n",
			want: rules.JournalSettings{PendingOff: true},
		},
		{name: "unknown key", yaml: "version: 1\njournal:\n  max_entry: 5\n", wantErr: `x.yaml:3:3: journal: unknown key "max_entry"`},
		{name: "bad count", yaml: "version: 1\njournal:\n  max_entries: lots\n", wantErr: "x.yaml:3:16: journal.max_entries: expected a whole number"},
		{name: "zero count", yaml: "version: 1\njournal:\n  max_entries: 0\n", wantErr: "x.yaml:3:16: journal.max_entries"},
		{name: "bad duration", yaml: "version: 1\njournal:\n  max_age: a day\n", wantErr: "x.yaml:3:12: journal.max_age: expected a duration"},
		{name: "zero age", yaml: "version: 1\njournal:\n  max_age: 0\n", wantErr: "x.yaml:3:12: journal.max_age: must be more than 0"},
		{name: "negative window", yaml: "version: 1\njournal:\n  recovery_window: -5m\n", wantErr: "x.yaml:3:20: journal.recovery_window: must be more than 0"},
		{name: "negative pending window", yaml: "version: 1\njournal:\n  pending_window: -1m\n", wantErr: "x.yaml:3:19: journal.pending_window: must not be negative (0 turns it off)"},
		{name: "not a mapping", yaml: "version: 1\njournal: 5\n", wantErr: "x.yaml:2:10: journal: expected a mapping"},
		{
			name: "a rule's own pending window",
			yaml: "version: 1\nrules:\n  - name: raid\n    pending_window: 1h\n  - name: follow\n",
			want: rules.JournalSettings{RulePending: map[string]time.Duration{"raid": time.Hour}},
		},
		{
			name: "a rule's pending window turned off, the global one set",
			yaml: "version: 1\njournal:\n  pending_window: 5m\nrules:\n  - name: chat\n    pending_window: 0\n  - name: tip\n    pending_window: 90s\n",
			want: rules.JournalSettings{PendingWindow: 5 * time.Minute, RulePending: map[string]time.Duration{"chat": 0, "tip": 90 * time.Second}},
		},
		{
			name: "global off, a rule on",
			yaml: "version: 1\njournal:\n  pending_window: 0\nrules:\n  - name: raid\n    pending_window: 30m\n",
			want: rules.JournalSettings{PendingOff: true, RulePending: map[string]time.Duration{"raid": 30 * time.Minute}},
		},
		{name: "rules without one", yaml: "version: 1\nrules:\n  - name: raid\n", want: rules.JournalSettings{}},
		{name: "a rule's bad window", yaml: "version: 1\nrules:\n  - name: raid\n    pending_window: soon\n", wantErr: `x.yaml:4:21: rule "raid": pending_window: expected a duration like 90s, 10m or 24h, got a scalar "soon"`},
		{name: "a rule's negative window", yaml: "version: 1\nrules:\n  - name: raid\n    pending_window: -1m\n", wantErr: `x.yaml:4:21: rule "raid": pending_window: must not be negative (0 turns it off)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := rules.Parse("x.yaml", []byte(tc.yaml), rules.Options{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse = %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := set.Journal(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Journal() = %+v, want %+v", got, tc.want)
			}
		})
	}
}
