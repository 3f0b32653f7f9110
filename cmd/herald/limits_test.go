package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/limit"
)

// TestDeclaredLengthOverMaxBodyIsRefusedAtOnce: a request whose
// Content-Length is past --max-body is answered 413 from its headers,
// without waiting for a body that would be refused anyway (it used to
// wait out the body deadline and answer 408).
func TestDeclaredLengthOverMaxBodyIsRefusedAtOnce(t *testing.T) {
	base := startServer(t, nil)
	for _, path := range []string{"/notify?code=c&event=x", "/socket.io/?EIO=4&transport=polling&sid=x"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// Two bytes of a body declared 99,999,999,999 long: the rest never comes.
		req := "POST " + path + " HTTP/1.1\r\nHost: " + strings.TrimPrefix(base, "http://") +
			"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 99999999999\r\n\r\nab"
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("POST %s declaring 99,999,999,999 bytes = %d, want 413", path, resp.StatusCode)
		}
	}
}

// TestTriggerURLsAreRefusedInTheirShape: a body past --max-body is
// refused in the answer shape of the path's sender: a trigger URL's
// (built-in or declared in the rules file) {success, count, msg}, a
// webhook's {"error": …}.
func TestTriggerURLsAreRefusedInTheirShape(t *testing.T) {
	path := writeRules(t, "version: 1\ningress:\n  alerts:\n    type: trigger\n    path: /alerts\n  kofi:\n    type: kofi\n    path: /kofi\n    verification_token: t0k3n\n")
	base := startServer(t, func(c *config) { c.rulesFile, c.maxBody = path, 64 })
	big := "code=a&event=b&pad=" + strings.Repeat("x", 100)
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for _, tc := range []struct{ path, want string }{
		{"/notify", `{"success":0,"count":0,"msg":"body larger than 64 bytes"}`},
		{"/alerts", `{"success":0,"count":0,"msg":"body larger than 64 bytes"}`},
		{"/kofi", `{"error":"body larger than 64 bytes"}`},
	} {
		if a := do(t, "POST", base+tc.path, strings.NewReader(big), form); a.status != http.StatusRequestEntityTooLarge || a.body != tc.want {
			t.Errorf("POST %s of 119 bytes = %d %s, want 413 %s", tc.path, a.status, a.body, tc.want)
		}
	}
}

// answering is a publisher with a fixed outcome.
type answering struct {
	rc  herald.Receipt
	err error
}

func (a answering) Publish(context.Context, herald.Event) (herald.Receipt, error) { return a.rc, a.err }

// TestMissesOfAnAlertNotKept: on a full disk an alert for a code with no
// page is answered 503 (not kept) where one for a page's code is answered
// 200. That difference must cost a guesser its miss as a count of 0 does,
// or a failing journal would make /notify an oracle for codes.
func TestMissesOfAnAlertNotKept(t *testing.T) {
	for _, tt := range []struct {
		name  string
		out   answering
		spent bool
	}{
		{"reached no page", answering{}, true},
		{"not kept: no page, and the journal failing", answering{err: herald.ErrNotKept}, true},
		{"reached a page", answering{rc: herald.Receipt{Pages: 1}}, false},
		{"refused while shutting down", answering{err: errors.New("not delivered")}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			misses := limit.NewBuckets(limit.Rate{PerSecond: 1e-9, Burst: 1}, nil)
			m := missCounter{next: tt.out, misses: misses, held: func(string) bool { return false }}
			ctx := context.WithValue(t.Context(), clientKey{}, "203.0.113.9")
			_, _ = m.Publish(ctx, herald.Event{Type: "follow", Code: "guess"})
			if ok, _ := misses.Peek("203.0.113.9"); ok == tt.spent {
				t.Errorf("miss spent = %v, want %v", !ok, tt.spent)
			}
		})
	}
}

// TestMissLimitRefusalsAreSeen: a bot out of misses (triggers for codes
// no page ever held) is refused on every /notify until they come back,
// its live codes too. That must not be silent: the refusal is logged and
// counted as the trigger's, where /api/rules, the dashboard and the
// metrics show it.
func TestMissLimitRefusalsAreSeen(t *testing.T) {
	cfg, err := parseFlags([]string{"-p", "0", "--admin-token", testToken, "--data", memoryData, "--metrics",
		"--rate-misses", "2/1m"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	base, logs, stop := serveInTest(t, cfg, noEnv)
	for i, want := range []int{200, 200, 429} {
		if a := do(t, "GET", base+"/notify?code=nobody&event=follow", nil, nil); a.status != want {
			t.Fatalf("trigger %d = %d %s, want %d", i+1, a.status, a.body, want)
		}
	}
	var st struct {
		Traffic  map[string]struct{ Refused uint64 }
		Refusals map[string]struct {
			By   map[string]uint64
			Last struct{ Reason string }
		}
	}
	a := do(t, "GET", base+"/api/rules", nil, map[string]string{"Authorization": "Bearer " + testToken})
	if err := json.Unmarshal([]byte(a.body), &st); err != nil {
		t.Fatalf("/api/rules: %v: %s", err, a.body)
	}
	if got := st.Traffic["trigger"].Refused; got != 1 {
		t.Errorf("/api/rules traffic.trigger.refused = %d, want 1", got)
	}
	if r := st.Refusals["trigger"]; r.By["too_many"] != 1 || !strings.Contains(r.Last.Reason, "too many triggers for codes with no page") {
		t.Errorf("/api/rules refusals.trigger = %+v, want one too_many with its reason", r)
	}
	m := do(t, "GET", base+"/metrics", nil, map[string]string{"Authorization": "Bearer " + testToken})
	if want := `herald_ingress_refused_total{instance="trigger",reason="too_many"} 1`; !strings.Contains(m.body, want) {
		t.Errorf("/metrics lacks %s", want)
	}
	stop()
	if !strings.Contains(logs.String(), "trigger refused: too many for codes with no page") {
		t.Errorf("log lacks the refusal:\n%s", logs.String())
	}
}

// TestTriggerNamedAfterTheProtocolIsRefused: /notify?event=welcome would
// reach pages as WELCOME, which every page takes for the server's
// greeting: it registers again and shows nothing, while the sender was
// told the alert went out. The sender gets a 400 with the reason instead,
// and nothing is journaled.
func TestTriggerNamedAfterTheProtocolIsRefused(t *testing.T) {
	base := startServer(t, nil)
	bearer := map[string]string{"Authorization": "Bearer " + testToken}
	for _, event := range []string{"welcome", "ERROR"} {
		a := do(t, "GET", base+"/notify?code=c1&event="+event, nil, nil)
		if a.status != http.StatusBadRequest || !strings.Contains(a.body, "an event of the page protocol") || !strings.Contains(a.body, `"success":0`) {
			t.Errorf("/notify event=%s = %d %s, want 400 naming the page protocol", event, a.status, a.body)
		}
	}
	if a := do(t, "GET", base+"/notify?code=c1&event=welcome_back", nil, nil); a.status != http.StatusOK {
		t.Errorf("/notify event=welcome_back = %d %s, want 200", a.status, a.body)
	}
	h := do(t, "GET", base+"/api/history?room=c1", nil, bearer)
	if strings.Contains(h.body, `"WELCOME"`) || strings.Contains(h.body, `"ERROR"`) || !strings.Contains(h.body, `"WELCOME_BACK"`) {
		t.Errorf("/api/history = %s, want WELCOME_BACK only", h.body)
	}
}

// TestAShortAdminTokenIsWarnedOf: the admin token opens every alert and
// code; one a person could guess is accepted (an operator's choice) but
// warned of at start, with how to make a good one.
func TestAShortAdminTokenIsWarnedOf(t *testing.T) {
	for _, tc := range []struct {
		token string
		warn  bool
	}{{"abc", true}, {testToken, false}} {
		cfg, err := parseFlags([]string{"-p", "0", "--admin-token", tc.token, "--data", memoryData}, noEnv, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		_, logs, stop := serveInTest(t, cfg, noEnv)
		stop()
		if got := strings.Contains(logs.String(), "the admin token is short"); got != tc.warn {
			t.Errorf("admin token of %d characters: warned %v, want %v\n%s", len(tc.token), got, tc.warn, logs.String())
		}
	}
}
