package socketio

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestMaxBodyRefusesLargePolls(t *testing.T) {
	_, srv := startSink(t, Options{MaxBody: 1000})
	resp, err := http.Get(srv.URL + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var open struct {
		SID        string `json:"sid"`
		MaxPayload int    `json:"maxPayload"`
	}
	if err := json.Unmarshal(bytes.TrimPrefix(body, []byte("0")), &open); err != nil || open.SID == "" {
		t.Fatalf("handshake %q: %v", body, err)
	}
	if open.MaxPayload != 1000 {
		t.Errorf("maxPayload = %d, want 1000 (the client sizes its batches by it)", open.MaxPayload)
	}
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
