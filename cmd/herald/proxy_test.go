package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/heraldhq/herald/internal/clientaddr"
	"github.com/heraldhq/herald/internal/limit"
)

// dialAs opens a Socket.IO WebSocket as a proxy would for the client at
// forwardedFor ("" sends no header), connects and registers code. It
// returns the HTTP status of a refused dial.
func dialAs(t *testing.T, base, forwardedFor, code string) (*websocket.Conn, int) {
	t.Helper()
	h := http.Header{}
	if forwardedFor != "" {
		h.Set("X-Forwarded-For", forwardedFor)
	}
	ws := "ws://" + hostOf(base) + "/socket.io/?EIO=4&transport=websocket"
	c, resp, err := websocket.DefaultDialer.DialContext(t.Context(), ws, h)
	if err != nil {
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { c.Close() })
	for _, m := range []string{"40", `42["REGISTER",{"code":"` + code + `"}]`} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	return c, http.StatusSwitchingProtocols
}

// TestTrustedProxies: behind a proxy named by --trusted-proxies, each
// client forwarded by it has limits of its own and is shown by its own
// address; without the flag, or from a peer that is not trusted, the
// header changes nothing (anyone can send one).
func TestTrustedProxies(t *testing.T) {
	loopback, err := clientaddr.Parse("127.0.0.1,::1")
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, _ := clientaddr.Parse("192.0.2.1")
	for _, tt := range []struct {
		name    string
		trusted clientaddr.Trusted
		apart   bool // clients behind the proxy are told apart
	}{
		{"the proxy is trusted", loopback, true},
		{"no proxy is trusted", clientaddr.Trusted{}, false},
		{"another proxy is trusted", elsewhere, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := startServer(t, func(c *config) {
				c.trustedProxies = tt.trusted
				c.connsPerIP = 2
				c.rateRequests = limit.Rate{PerSecond: 0.01, Burst: 3}
				c.rateMisses = limit.Rate{}
			})
			// Connections: two per client.
			var statuses []int
			for _, client := range []string{"198.51.100.1", "198.51.100.1", "198.51.100.2", "203.0.113.9, 198.51.100.2", "198.51.100.1"} {
				_, status := dialAs(t, base, client, "proxied")
				statuses = append(statuses, status)
			}
			want := []int{101, 101, 503, 503, 503}
			if tt.apart {
				want = []int{101, 101, 101, 101, 503}
			}
			if !slices.Equal(statuses, want) {
				t.Errorf("dial statuses %v, want %v", statuses, want)
			}
			// Request rate: three per client.
			var got []int
			for _, client := range []string{"198.51.100.1", "198.51.100.1", "198.51.100.1", "198.51.100.1", "198.51.100.2"} {
				a := do(t, "GET", base+"/notify?code=proxied&event=e", nil, map[string]string{"X-Forwarded-For": client})
				got = append(got, a.status)
			}
			wantStatus := []int{200, 200, 200, 429, 429}
			if tt.apart {
				wantStatus = []int{200, 200, 200, 429, 200}
			}
			if !slices.Equal(got, wantStatus) {
				t.Errorf("/notify statuses %v, want %v", got, wantStatus)
			}
			// The pages list shows who the pages are.
			waitFor(t, "the pages to be listed", func() bool { return strings.Contains(clients(t, base), `"proxied"`) })
			list := clients(t, base)
			if shown := strings.Contains(list, "198.51.100.2"); shown != tt.apart {
				t.Errorf("/clients shows the forwarded address: %v, want %v:\n%s", shown, tt.apart, list)
			}
		})
	}
}
