package needs

import (
	"os/exec"
	"testing"
)

func TestCI(t *testing.T) {
	for v, want := range map[string]bool{"": false, "false": false, "0": false, "true": true, "1": true, "yes": true} {
		t.Setenv("CI", v)
		if got := CI(); got != want {
			t.Errorf("CI=%q: CI() = %v, want %v", v, got, want)
		}
	}
}

// TestProgram runs Program in a child test of its own, whose outcome
// (skipped, failed, passed) is what a test needing a part sees.
func TestProgram(t *testing.T) {
	present := "go"
	if _, err := exec.LookPath(present); err != nil {
		t.Fatalf("go is not on PATH: %v", err)
	}
	tests := []struct {
		name    string
		ci      string
		program string
		want    string
	}{
		{"found", "true", present, "ok"},
		{"missing on a developer's machine", "", "no-such-program-herald", "skipped"},
		{"missing under CI", "true", "no-such-program-herald", "failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			got := outcome(func(tb testing.TB) { Program(tb, "install it", tc.program) })
			if got != tc.want {
				t.Errorf("Program(%q) with CI=%q: %s, want %s", tc.program, tc.ci, got, tc.want)
			}
		})
	}
}

// probe is a testing.TB that records how a helper ended it.
type probe struct {
	testing.TB
	ended string
}

func (p *probe) Helper()               {}
func (p *probe) Fatalf(string, ...any) { p.ended = "failed"; panic(p) }
func (p *probe) Skipf(string, ...any)  { p.ended = "skipped"; panic(p) }
func outcome(f func(testing.TB)) (ended string) {
	p := &probe{ended: "ok"}
	defer func() {
		if r := recover(); r != nil && r != any(p) {
			panic(r)
		}
		ended = p.ended
	}()
	f(p)
	return p.ended
}
