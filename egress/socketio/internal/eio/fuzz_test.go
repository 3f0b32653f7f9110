package eio

import (
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
)

// FuzzPacket feeds arbitrary packets, as a page could send them, to the
// packet handler. Properties: it never panics; only "1" (close) and "41"
// (namespace disconnect) end the connection; the handler sees an event only
// after CONNECT, and then with a name that was a JSON string.
// ("1…" is an Engine.IO close whatever follows it.)
func FuzzPacket(f *testing.F) {
	for _, seed := range []string{
		"40", `40{"code":"x"}`, "40/admin,", `42["REGISTER",{"code":"a"}]`, `4217["REGISTER","a"]`,
		`42[1]`, `42`, `4`, "3", "2probe", "1", "41", "6", `451-["x",{"_placeholder":true,"num":0}]`,
		`42/admin,["x"]`, `42["a"`, "4299999999999999999999[\"a\"]",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, pkt string) {
		h := &recordingHandler{}
		s := NewServer(Options{}, h)
		server, client := net.Pipe()
		defer server.Close()
		defer client.Close()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		c := &Conn{srv: s, nc: server, id: "sid"}
		for _, p := range []string{"40", pkt} {
			if p == "" {
				continue
			}
			reason := s.packet(c, []byte(p))
			ends := p[0] == '1'
			if rest, ok := strings.CutPrefix(p, "41"); ok {
				nsp, _ := namespace([]byte(rest))
				ends = nsp == "/" // "41", "41/," and "41/": the default namespace
			}
			if (reason != "") != ends {
				t.Fatalf("packet %q ended the connection with %q", p, reason)
			}
		}
		for _, name := range h.events {
			if !json.Valid([]byte(`"`+name+`"`)) && name != "" {
				t.Fatalf("event name %q did not come from a JSON string", name)
			}
		}
	})
}

type recordingHandler struct{ events []string }

func (r *recordingHandler) Connect(*Conn, map[string]any) {}
func (r *recordingHandler) Event(_ *Conn, name string, _ []json.RawMessage) ([]any, bool) {
	r.events = append(r.events, name)
	return nil, true
}
func (r *recordingHandler) Disconnect(*Conn, string)             {}
func (r *recordingHandler) Ack(*Conn, uint64, []json.RawMessage) {}
