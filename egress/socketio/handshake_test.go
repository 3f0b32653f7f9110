package socketio

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestRegisterCode(t *testing.T) {
	tests := []struct {
		name string
		json string
		want string
	}{
		{name: "seed object", json: `{"code":"abc"}`, want: "abc"},
		{name: "bare string", json: `"abc"`, want: "abc"},
		{name: "integral number", json: `{"code":1234}`, want: "1234"},
		{name: "bare integral number", json: `77`, want: "77"},
		{name: "extra fields ignored", json: `{"code":"abc","debug":true}`, want: "abc"},
		{name: "unicode kept as is", json: `{"code":"ä b"}`, want: "ä b"},
		{name: "fraction", json: `{"code":1.5}`},
		{name: "huge number", json: `{"code":1e300}`},
		{name: "missing", json: `{}`},
		{name: "null", json: `null`},
		{name: "nested", json: `{"code":{"code":"x"}}`},
		{name: "list", json: `["abc"]`},
		{name: "bool", json: `true`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tc.json), &v); err != nil {
				t.Fatal(err)
			}
			if got, _ := registerCode(v); got != tc.want {
				t.Errorf("registerCode(%s) = %q, want %q", tc.json, got, tc.want)
			}
		})
	}
}

func TestHandshakeCode(t *testing.T) {
	tests := []struct {
		name    string
		h       handshake
		want    string
		wantErr bool
	}{
		{name: "none", h: handshake{}},
		{name: "auth", h: handshake{auth: map[string]any{"code": "a"}}, want: "a"},
		{name: "integral auth", h: handshake{auth: map[string]any{"code": float64(12)}}, want: "12"},
		{name: "query", h: handshake{query: url.Values{"code": {"q", "r"}}}, want: "q"},
		{name: "library query", h: handshake{query: libraryQuery(map[string]any{"code": []string{"q", "r"}})}, want: "q"},
		{name: "auth wins", h: handshake{auth: map[string]any{"code": "a"}, query: url.Values{"code": {"q"}}}, want: "a"},
		{name: "empty auth falls back", h: handshake{auth: map[string]any{"code": ""}, query: url.Values{"code": {"q"}}}, want: "q"},
		{name: "256 bytes", h: handshake{auth: map[string]any{"code": strings.Repeat("x", 256)}}, want: strings.Repeat("x", 256)},
		{name: "257 bytes", h: handshake{query: url.Values{"code": {strings.Repeat("x", 257)}}}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := handshakeCode(tc.h)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("handshakeCode = %q, %v; want %q (error: %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// FuzzRegisterCode feeds REGISTER payloads as a page could send them. The
// code found is always the payload's own: the string itself, the object's
// code string, or an integral number's decimal text.
func FuzzRegisterCode(f *testing.F) {
	for _, seed := range []string{`{"code":"abc"}`, `"abc"`, `{"code":12}`, `{"code":1.5}`, `{}`, `null`, `[1]`, `{"code":-0}`, `{"code":9007199254740993}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		got, err := registerCode(v)
		if err != nil {
			if len(got) != 0 {
				t.Fatalf("registerCode(%s) = %q with error %v", data, got, err)
			}
			return // too long: refused, checked in TestRegisterForms
		}
		inner := v
		if m, ok := v.(map[string]any); ok {
			inner = m["code"]
		}
		switch x := inner.(type) {
		case string:
			if got != x {
				t.Fatalf("registerCode(%s) = %q, want %q", data, got, x)
			}
		case float64:
			if got == "" {
				return
			}
			back, err := strconv.ParseFloat(got, 64)
			if err != nil || back != x || strings.ContainsAny(got, ".eE") {
				t.Fatalf("registerCode(%s) = %q, not the integer %v", data, got, x)
			}
		default:
			if got != "" {
				t.Fatalf("registerCode(%s) = %q, want refused", data, got)
			}
		}
	})
}

func TestLogCodeHidesTheCode(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("x", "code", logCode("streamer-secret"), "empty", logCode(""))
	out := buf.String()
	if strings.Contains(out, "streamer-secret") {
		t.Errorf("log line shows the code: %s", out)
	}
	a, b := logCode("one").LogValue().String(), logCode("two").LogValue().String()
	if a == b || !strings.HasPrefix(a, "sha256:") || len(a) != len("sha256:")+8 {
		t.Errorf("logCode values %q and %q: want distinct sha256:<8 hex>", a, b)
	}
	if !strings.Contains(out, `empty=""`) {
		t.Errorf("empty code should log as empty: %s", out)
	}
}
