package socketio

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestOptionsReachTheHandshake(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want openPacket
	}{
		{name: "defaults", opts: Options{}, want: openPacket{MaxPayload: 1 << 20, PingInterval: 25000, PingTimeout: 20000}},
		{name: "set", opts: Options{MaxBody: 4096, PingInterval: 7 * time.Second, PingTimeout: 3 * time.Second},
			want: openPacket{MaxPayload: 4096, PingInterval: 7000, PingTimeout: 3000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, srv := startSink(t, tc.opts)
			got := pollHandshake(t, srv.URL)
			got.SID = ""
			if got != tc.want {
				t.Errorf("open packet = %+v, want %+v", got, tc.want)
			}
		})
	}
}

type openPacket struct {
	SID          string `json:"sid"`
	MaxPayload   int    `json:"maxPayload"`
	PingInterval int    `json:"pingInterval"`
	PingTimeout  int    `json:"pingTimeout"`
}

// pollHandshake opens a long-polling session by hand and returns the open packet.
func pollHandshake(t *testing.T, base string) openPacket {
	t.Helper()
	resp, err := http.Get(base + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var open openPacket
	if err := json.Unmarshal(bytes.TrimPrefix(body, []byte("0")), &open); err != nil || open.SID == "" {
		t.Fatalf("handshake %q: %v", body, err)
	}
	return open
}

func TestMaxBodyRefusesLargePolls(t *testing.T) {
	_, srv := startSink(t, Options{MaxBody: 1000})
	open := pollHandshake(t, srv.URL)
	url := srv.URL + "/socket.io/?EIO=4&transport=polling&sid=" + open.SID
	for _, tc := range []struct {
		name string
		size int
		ok   bool
	}{
		{name: "under the limit", size: 900, ok: true},
		{name: "over the limit", size: 1001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A CONNECT packet with a padded auth object: valid, so only its
			// size decides.
			const head, tail = `40{"pad":"`, `"}`
			body := head + strings.Repeat("x", tc.size-len(head)-len(tail)) + tail
			resp, err := http.Post(url, "text/plain;charset=UTF-8", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.StatusCode == http.StatusOK; got != tc.ok {
				t.Errorf("POST of %d bytes = %d, want accepted=%v", tc.size, resp.StatusCode, tc.ok)
			}
		})
	}
}
