package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestCodeNew: `herald code new` prints a 26-character base32 code (128
// random bits), a new one each time.
func TestCodeNew(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		var out, errOut bytes.Buffer
		if rc := run(t.Context(), []string{"code", "new"}, noEnv, &out, &errOut); rc != exitOK {
			t.Fatalf("herald code new = exit %d, %s", rc, errOut.String())
		}
		code := strings.TrimSpace(out.String())
		if len(code) != 26 || strings.Trim(code, codeAlphabet) != "" {
			t.Fatalf("code %q: want 26 characters of %s", code, codeAlphabet)
		}
		if seen[code] {
			t.Fatalf("code %q printed twice", code)
		}
		seen[code] = true
	}
	var out, errOut bytes.Buffer
	if rc := run(t.Context(), []string{"code"}, noEnv, &out, &errOut); rc != exitUsage {
		t.Fatalf("herald code (no verb) = exit %d, want %d", rc, exitUsage)
	}
}
