// Package needs is how a test asks for an outside part it runs against
// (redis-server, nginx, Chromium, node and the official client): found,
// the test goes on; missing, it is skipped on a developer's machine and
// fails under CI, where a missing part must never pass as green.
package needs

import (
	"os"
	"os/exec"
	"testing"
)

// CI reports whether the tests run under CI: CI set to anything but "",
// "false" or "0" (.ci/run sets CI=true).
func CI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

// Missing ends t for want of what: it fails under CI and is skipped
// elsewhere. how says how to get it ("apt-get install redis-server").
func Missing(t testing.TB, what, how string) {
	t.Helper()
	if CI() {
		t.Fatalf("%s is required under CI (%s): not found", what, how)
	}
	t.Skipf("%s not found (%s); skipping", what, how)
}

// Program returns the path of the first of names found (a bare name is
// looked up on PATH, a path is taken as it is) or ends t with Missing.
func Program(t testing.TB, how string, names ...string) string {
	t.Helper()
	for _, name := range names {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	Missing(t, names[0], how)
	return ""
}
