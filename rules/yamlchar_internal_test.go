package rules

import "testing"

func TestBadEscape(t *testing.T) {
	tests := []struct {
		name      string
		lines     []string
		line, col int
		esc       string // "" when none is found
	}{
		{name: "a Windows path", lines: []string{`img: "C:\Users\me"`}, line: 1, col: 9, esc: `\U`},
		{name: "valid escapes pass", lines: []string{`text: "a\n\t\x41\u00e9\"\\ b\q"`}, line: 1, col: 29, esc: `\q`},
		{name: "a short hex escape", lines: []string{`text: "\x4"`}, line: 1, col: 8, esc: `\x`},
		{name: "quotes inside a plain value have no escapes", lines: []string{`when: type == "a\q"`}},
		{name: "single quotes have no escapes", lines: []string{`text: 'C:\Users' # "\q"`}},
		{name: "a flow item", lines: []string{`to: [a, "b\c"]`}, line: 1, col: 11, esc: `\c`},
		{name: "on a later line of the string", lines: []string{`text: "one \"`, `  two \é"`}, line: 2, col: 7, esc: `\é`},
		{name: "an escaped line break", lines: []string{`text: "one \`, `  two \q"`}, line: 2, col: 7, esc: `\q`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			line, col, esc, ok := badEscape(tc.lines, 1)
			if ok != (tc.esc != "") || line != tc.line || col != tc.col || esc != tc.esc {
				t.Errorf("badEscape = %d:%d %q %v, want %d:%d %q", line, col, esc, ok, tc.line, tc.col, tc.esc)
			}
		})
	}
}
