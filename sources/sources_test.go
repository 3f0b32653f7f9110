package sources

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestFSServesThePageFiles(t *testing.T) {
	for _, name := range []string{"notificationservice.js", "example.html"} {
		b, err := fs.ReadFile(FS(), name)
		if err != nil {
			t.Errorf("FS has no %s: %v", name, err)
			continue
		}
		if len(b) == 0 {
			t.Errorf("%s is empty", name)
		}
	}
	if _, err := fs.Stat(FS(), "vendor/socket.io.min.js"); err == nil {
		t.Error("FS exposes the vendored client; it is served at /socket.io/socket.io.js only")
	}
}

// TestSocketIOClientMatchesPinnedVersion keeps the embedded bundle and
// package.json's socket.io-client from drifting apart.
func TestSocketIOClientMatchesPinnedVersion(t *testing.T) {
	banner := regexp.MustCompile(`^/\*!\s*\n\s*\* Socket\.IO v(\d+\.\d+\.\d+)\s*\n`).FindSubmatch(SocketIOClient())
	if banner == nil {
		t.Fatalf("embedded client has no Socket.IO version banner: %.80q", SocketIOClient())
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile(filepath.Join("..", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatalf("package.json: %v", err)
	}
	pinned := pkg.Dependencies["socket.io-client"]
	if got := string(banner[1]); got != pinned {
		t.Errorf("embedded client is v%s, package.json pins socket.io-client %q: copy node_modules/socket.io-client/dist/socket.io.min.js to sources/vendor/", got, pinned)
	}
	// When npm ci has run, the copy must be the package's file, unmodified.
	installed, err := os.ReadFile(filepath.Join("..", "node_modules", "socket.io-client", "dist", "socket.io.min.js"))
	if err != nil {
		t.Logf("node_modules not installed, byte comparison skipped: %v", err)
		return
	}
	if !bytes.Equal(installed, SocketIOClient()) {
		t.Error("sources/vendor/socket.io.min.js differs from node_modules/socket.io-client/dist/socket.io.min.js")
	}
}

func TestVendoredClientHasItsLicense(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("vendor", "LICENSE.socket.io-client"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"The MIT License", "Guillermo Rauch", "socket.io-client 4."} {
		if !strings.Contains(string(b), want) {
			t.Errorf("vendor/LICENSE.socket.io-client lacks %q", want)
		}
	}
}
