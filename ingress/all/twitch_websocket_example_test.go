package all_test

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestTwitchWebSocketExample: examples/twitch/websocket.yaml loads, its
// tests pass, and below its ingress block it is rules.yaml word for word,
// so the two setups cannot drift apart.
func TestTwitchWebSocketExample(t *testing.T) {
	const ws, hook = "../../examples/twitch/websocket.yaml", "../../examples/twitch/rules.yaml"
	r, _ := load(t, ws, map[string]string{"TWITCH_CLIENT_ID": "abc", "ALERT_CODE": "abc123"}, time.Now())
	if st := r.Status(); st.Tests.Run == 0 || st.Tests.Failed != 0 {
		t.Errorf("%s tests: %+v", ws, st.Tests)
	}
	rest := func(file string) string {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		_, after, ok := strings.Cut(string(b), "\nrules:\n")
		if !ok {
			t.Fatalf("%s has no rules: section", file)
		}
		return after
	}
	if rest(ws) != rest(hook) {
		t.Errorf("the rules and tests of %s differ from %s; keep them identical", ws, hook)
	}
}
