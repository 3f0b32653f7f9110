package heraldbin

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestPathBuildsOnceAndRemoveDeletes: one build for every caller, a binary
// that runs, and nothing left once Remove ran.
func TestPathBuildsOnceAndRemoveDeletes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds herald")
	}
	first, err := Path()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Path()
	if err != nil || again != first {
		t.Fatalf("second Path = %q, %v; want %q again", again, err, first)
	}
	out, err := exec.Command(first, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "herald") {
		t.Fatalf("%s --version = %q, %v", first, out, err)
	}
	Remove()
	if _, err := os.Stat(first); !os.IsNotExist(err) {
		t.Errorf("after Remove, %s: %v; want it gone", first, err)
	}
}
