package main

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
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
