package pagetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestNodeModulesFindsTheRepositoryClient(t *testing.T) {
	dir, err := NodeModules()
	if err != nil {
		t.Skipf("node_modules not installed (npm ci): %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "socket.io-client", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct{ Version string }
	if err := json.Unmarshal(b, &pkg); err != nil || pkg.Version == "" {
		t.Fatalf("socket.io-client package.json: %v", err)
	}
	if want := filepath.Join("..", "..", "node_modules"); !sameDir(t, dir, want) {
		t.Errorf("NodeModules() = %s, want the repository's %s", dir, want)
	}
}

func TestNodeModulesHonoursOverride(t *testing.T) {
	t.Setenv("HERALD_NODE_MODULES", t.TempDir())
	if dir, err := NodeModules(); err == nil {
		t.Errorf("NodeModules() with an empty override = %s, want an error", dir)
	}
}

func TestMessageDecode(t *testing.T) {
	m := Message{Event: "FOLLOW", Args: []json.RawMessage{json.RawMessage(`{"user":"ada"}`), json.RawMessage(`{"id":"e1"}`)}}
	var data map[string]string
	if err := m.Decode(0, &data); err != nil || data["user"] != "ada" {
		t.Errorf("Decode(0) = %v, %v; want user ada", data, err)
	}
	if err := m.Decode(2, &data); err == nil {
		t.Error("Decode(2) of a two-argument event: want an error")
	}
}

func sameDir(t *testing.T, a, b string) bool {
	t.Helper()
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}
