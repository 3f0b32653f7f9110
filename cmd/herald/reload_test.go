package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pagetest"
)

func rulesWithEmit(name string) string {
	return `version: 1
rules:
  - name: rename-ping
    when: type == "ping"
    emit: ` + name + `
`
}

// writeAtomically saves the way editors do: a temporary file renamed over
// the old one.
func writeAtomically(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestRulesHotReload edits the rules file under a running server: a valid
// save takes effect without a restart, a broken one is refused with a
// positioned error while the previous rules keep routing.
func TestRulesHotReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomically(t, path, rulesWithEmit("PONG_V1"))
	base := startServer(t, func(c *config) { c.rulesFile = path })
	page := pagetest.Start(t, base, pagetest.Options{Code: "reload"})
	page.WaitRegistered(t)

	ping := func() string {
		t.Helper()
		if a := do(t, "GET", base+"/notify?code=reload&event=ping", nil, nil); a.status != 200 {
			t.Fatalf("notify = %d %s", a.status, a.body)
		}
		return page.Next(t, 10*time.Second).Event
	}
	if got := ping(); got != "PONG_V1" {
		t.Fatalf("before the edit the page got %s, want PONG_V1", got)
	}

	writeAtomically(t, path, rulesWithEmit("PONG_V2"))
	waitFor(t, "the edited rules to load", func() bool { return rulesStatus(t, base).Generation == 2 })
	if got := ping(); got != "PONG_V2" {
		t.Fatalf("after the edit the page got %s, want PONG_V2", got)
	}

	writeAtomically(t, path, "version: 1\nrules:\n  - name: broken\n    when: dta.amount > 3\n")
	waitFor(t, "the broken file to be refused", func() bool { return rulesStatus(t, base).LastError != nil })
	st := rulesStatus(t, base)
	if !strings.Contains(st.LastError.Message, "rules.yaml:4:11:") || !strings.Contains(st.LastError.Message, "dta") {
		t.Errorf("last error = %q, want it at rules.yaml:4:11 naming dta", st.LastError.Message)
	}
	if st.Generation != 2 {
		t.Errorf("generation after a broken save = %d, want 2 (unchanged)", st.Generation)
	}
	if got := ping(); got != "PONG_V2" {
		t.Fatalf("after a broken save the page got %s, want PONG_V2 from the previous rules", got)
	}
}

type statusAnswer struct {
	Generation uint64 `json:"generation"`
	LastError  *struct {
		Message string `json:"message"`
	} `json:"last_error"`
}

func rulesStatus(t *testing.T, base string) statusAnswer {
	t.Helper()
	a := do(t, "GET", base+"/api/rules", nil, map[string]string{"Authorization": "Bearer " + testToken})
	var st statusAnswer
	if err := json.Unmarshal([]byte(a.body), &st); err != nil {
		t.Fatalf("GET /api/rules = %d %s: %v", a.status, a.body, err)
	}
	return st
}

// waitFor polls cond until it holds; the deadline only bounds a hung test,
// it asserts nothing about speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRulesBesideHerald: with no --rules, herald and `herald route` run
// the rules.yaml beside them, the file `herald check` checks by default
// (a streamer who wrote one there and saw check say ok expects herald to
// run it); with none there, the embedded default, like the original
// service.
func TestRulesBesideHerald(t *testing.T) {
	t.Chdir(t.TempDir())
	rulesText := "version: 1\nrules:\n  - name: rename\n    when: type == \"follow\"\n    emit: FOLLOWED\n"
	event := `{"source":"trigger","type":"follow","code":"x"}`
	auth := map[string]string{"Authorization": "Bearer " + testToken}

	base := startServer(t, nil)
	if a := do(t, "POST", base+"/api/route?dry_run=1", strings.NewReader(event), auth); strings.Contains(a.body, "FOLLOWED") {
		t.Fatalf("with no rules.yaml here the embedded default should run, but a follow became FOLLOWED: %s", a.body)
	}

	if err := os.WriteFile("rules.yaml", []byte(rulesText), 0o600); err != nil {
		t.Fatal(err)
	}
	base = startServer(t, nil)
	if a := do(t, "POST", base+"/api/route?dry_run=1", strings.NewReader(event), auth); !strings.Contains(a.body, "FOLLOWED") {
		t.Errorf("herald without --rules beside a rules.yaml: a follow routed as %s, want the file's FOLLOWED", a.body)
	}
	var out, errs strings.Builder
	if code := runRoute(t.Context(), []string{"--event", event}, noEnv, &out, &errs); code != exitOK || !strings.Contains(out.String(), "FOLLOWED") {
		t.Errorf("herald route without --rules beside a rules.yaml = %d %s %s, want the file's FOLLOWED", code, out.String(), errs.String())
	}

	// A broken one stops the start, as a named one does; the error shows
	// where, and says herald read it because it lies there.
	if err := os.WriteFile("rules.yaml", []byte("version: 1\nrules:\n  - name: x\n    when: dta.amount > 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseFlags([]string{"-p", "0", "--data", memoryData}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, err = newServer(cfg, noEnv, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "        when: dta.amount > 1\n              ^") ||
		!strings.Contains(err.Error(), "reads the rules.yaml in its working directory when --rules names no file") {
		t.Errorf("start beside a broken rules.yaml = %v, want its errors with carets and why herald read it", err)
	}
}
