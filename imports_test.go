package herald_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestImportGraph keeps data flowing one way (ingress → router → egress)
// and the leaf a leaf: every arrow points at the root package, and no
// plugin reaches into the router or another plugin family.
func TestImportGraph(t *testing.T) {
	const mod = "github.com/heraldhq/herald"
	forbidden := []struct {
		pkg    string // package path prefix, relative to the module
		mayNot []string
	}{
		{pkg: "", mayNot: []string{"/"}}, // the leaf imports nothing of ours
		{pkg: "/rules", mayNot: []string{"/router", "/ingress", "/egress", "/cmd"}},
		{pkg: "/ingress", mayNot: []string{"/router", "/egress", "/rules", "/cmd"}},
		{pkg: "/egress", mayNot: []string{"/router", "/ingress", "/rules", "/cmd"}},
		{pkg: "/router", mayNot: []string{"/cmd"}},
		// The journal and the broker are stores and carriers: they know
		// deliveries, not who makes or shows them.
		{pkg: "/journal", mayNot: []string{"/router", "/ingress", "/egress", "/rules", "/broker", "/cmd"}},
		{pkg: "/broker", mayNot: []string{"/router", "/ingress", "/egress", "/rules", "/cmd"}},
		// What watches herald reads the router; nothing on the alert path
		// imports it back.
		{pkg: "/metrics", mayNot: []string{"/cmd", "/admin"}},
		{pkg: "/admin", mayNot: []string{"/cmd", "/metrics"}},
		{pkg: "/internal/feed", mayNot: []string{"/"}},
		{pkg: "/internal/yamlpos", mayNot: []string{"/"}},
		{pkg: "/internal/registry", mayNot: []string{"/"}},
		{pkg: "/internal/needs", mayNot: []string{"/"}},
		{pkg: "/internal/heraldbin", mayNot: []string{"/"}},
		{pkg: "/internal/spell", mayNot: []string{"/"}},
	}
	cmd := exec.Command("go", "list", "-json", "./...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(out)
	seen := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		rel := strings.TrimPrefix(p.ImportPath, mod)
		for _, f := range forbidden {
			if !owns(f.pkg, rel) {
				continue
			}
			for _, imp := range p.Imports {
				irel, ours := strings.CutPrefix(imp, mod)
				if !ours || owns(f.pkg, irel) {
					continue
				}
				for _, bad := range f.mayNot {
					if bad == "/" || owns(bad, irel) {
						t.Errorf("%s imports %s: data flows ingress → router → egress, and the root package is a leaf", p.ImportPath, imp)
					}
				}
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	if seen < 5 {
		t.Fatalf("go list saw only %d packages", seen)
	}
}

// owns reports whether rel is the package prefix or below it; "" owns only
// the root package itself.
func owns(prefix, rel string) bool {
	if prefix == "" {
		return rel == ""
	}
	return rel == prefix || strings.HasPrefix(rel, prefix+"/")
}
