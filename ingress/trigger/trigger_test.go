package trigger

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingress"
)

// recorder is a Publisher that remembers events and reports a fixed page count.
type recorder struct {
	mu     sync.Mutex
	events []herald.Event
	pages  int
}

func (r *recorder) Publish(_ context.Context, ev herald.Event) (herald.Receipt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return herald.Receipt{Deliveries: 1, Pages: r.pages}, nil
}

func newAdapter(t *testing.T, options string, pub herald.Publisher) ingress.Adapter {
	t.Helper()
	var node *yaml.Node
	if options != "" {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(options), &doc); err != nil {
			t.Fatal(err)
		}
		node = doc.Content[0]
	}
	p := paramsFor(pub)
	p.Options = node
	a, err := New(p)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

func paramsFor(pub herald.Publisher) ingress.Params {
	return ingress.Params{Name: "trigger", Type: "trigger", Path: "/notify", File: "rules.yaml", Publish: pub, MaxBody: 64}
}

func TestTrigger(t *testing.T) {
	tests := []struct {
		name        string
		options     string
		method      string
		target      string
		contentType string
		body        string
		header      map[string]string
		wantStatus  int
		wantBody    string
		wantType    string
		wantCode    string
		wantData    map[string]any
	}{
		{
			name: "seed GET", method: "GET", target: "/notify?code=abc&event=new%20follower&user=ada",
			wantStatus: 200, wantBody: `{"success":1,"count":3,"msg":"Broadcast event to 3 clients"}`,
			wantType: "new follower", wantCode: "abc",
			wantData: map[string]any{"code": "abc", "event": "new follower", "user": "ada"},
		},
		{
			name: "first value of a repeated parameter", method: "GET", target: "/notify?code=a&event=x&k=1&k=2",
			wantStatus: 200, wantType: "x", wantCode: "a",
			wantData: map[string]any{"code": "a", "event": "x", "k": "1"},
		},
		{
			name: "missing code", method: "GET", target: "/notify?event=x",
			wantStatus: 400, wantBody: `{"success":0,"count":0,"msg":"missing required parameter \"code\""}`,
		},
		{
			name: "missing event", method: "GET", target: "/notify?code=a",
			wantStatus: 400, wantBody: `{"success":0,"count":0,"msg":"missing required parameter \"event\""}`,
		},
		{
			name: "empty event", method: "GET", target: "/notify?code=a&event=", wantStatus: 400,
		},
		{
			name: "POST form", method: "POST", target: "/notify", contentType: "application/x-www-form-urlencoded",
			body: "code=a&event=raid&viewers=12", wantStatus: 200, wantType: "raid", wantCode: "a",
			wantData: map[string]any{"code": "a", "event": "raid", "viewers": "12"},
		},
		{
			name: "POST JSON keeps types", method: "POST", target: "/notify?code=q", contentType: "application/json",
			body: `{"event":"cheer","bits":100}`, wantStatus: 200, wantType: "cheer", wantCode: "q",
			wantData: map[string]any{"code": "q", "event": "cheer", "bits": float64(100)},
		},
		{
			name: "POST JSON with a numeric code", method: "POST", target: "/notify", contentType: "application/json",
			body: `{"code":1234,"event":"x"}`, wantStatus: 200, wantType: "x", wantCode: "1234",
			wantData: map[string]any{"code": float64(1234), "event": "x"},
		},
		{
			name: "POST JSON not an object", method: "POST", target: "/notify", contentType: "application/json",
			body: `[1,2]`, wantStatus: 400,
		},
		{
			name: "POST oversized", method: "POST", target: "/notify", contentType: "application/x-www-form-urlencoded",
			body: "code=a&event=b&pad=" + strings.Repeat("x", 100), wantStatus: 413,
		},
		{
			name: "GET with a query past the body limit", method: "GET", target: "/notify?code=a&event=b&pad=" + strings.Repeat("x", 100),
			wantStatus: 413, wantBody: `{"success":0,"count":0,"msg":"query string larger than 64 bytes"}`,
		},
		{
			name: "POST unsupported type", method: "POST", target: "/notify", contentType: "text/xml",
			body: "<a/>", wantStatus: 415,
		},
		{name: "PUT", method: "PUT", target: "/notify?code=a&event=b", wantStatus: 405},
		{name: "HEAD does not fire", method: "HEAD", target: "/notify?code=a&event=b", wantStatus: 405},
		{
			name: "token required", options: "token: s3cret", method: "GET", target: "/notify?code=a&event=b",
			wantStatus: 401,
		},
		{
			name: "token in query is removed from data", options: "token: s3cret", method: "GET",
			target: "/notify?code=a&event=b&token=s3cret", wantStatus: 200, wantType: "b", wantCode: "a",
			wantData: map[string]any{"code": "a", "event": "b"},
		},
		{
			name: "token as bearer", options: "token: s3cret", method: "GET", target: "/notify?code=a&event=b",
			header: map[string]string{"Authorization": "Bearer s3cret"}, wantStatus: 200, wantType: "b", wantCode: "a",
			wantData: map[string]any{"code": "a", "event": "b"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{pages: 3}
			a := newAdapter(t, tc.options, rec)
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			a.ServeHTTP(w, req)
			if w.Code != tc.wantStatus {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.target, w.Code, w.Body, tc.wantStatus)
			}
			if tc.wantBody != "" && strings.TrimSpace(w.Body.String()) != tc.wantBody {
				t.Errorf("body = %s, want %s", w.Body, tc.wantBody)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want JSON", ct)
			}
			if tc.wantStatus != 200 {
				if len(rec.events) != 0 {
					t.Errorf("refused request published %d events", len(rec.events))
				}
				return
			}
			if len(rec.events) != 1 {
				t.Fatalf("published %d events, want 1", len(rec.events))
			}
			ev := rec.events[0]
			if ev.Type != tc.wantType || ev.Code != tc.wantCode || ev.Source != "trigger" {
				t.Errorf("event = {source %q type %q code %q}, want {trigger %q %q}", ev.Source, ev.Type, ev.Code, tc.wantType, tc.wantCode)
			}
			if !maps.Equal(ev.Data, tc.wantData) {
				t.Errorf("data = %v, want %v", ev.Data, tc.wantData)
			}
			var resp map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp["success"] != float64(1) {
				t.Errorf("response %s is not a success", w.Body)
			}
		})
	}
}

func TestUnknownOption(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("tokn: x"), &doc); err != nil {
		t.Fatal(err)
	}
	_, err := New(ingress.Params{Name: "t", File: "rules.yaml", Options: doc.Content[0], Publish: &recorder{}})
	if err == nil || !strings.Contains(err.Error(), `rules.yaml:1:1: unknown key "tokn"`) {
		t.Fatalf("New with a misspelt option = %v, want a positioned unknown-key error", err)
	}
}

func FuzzTrigger(f *testing.F) {
	f.Add("GET", "code=a&event=b", "", "")
	f.Add("POST", "", "application/json", `{"code":"a","event":"b","n":[1,{"x":null}]}`)
	f.Add("POST", "code=a", "application/x-www-form-urlencoded", "event=%zz")
	f.Fuzz(func(t *testing.T, method, query, ct, body string) {
		if method != "GET" && method != "POST" {
			method = "POST"
		}
		rec := &recorder{}
		a := newAdapter(t, "", rec)
		req := httptest.NewRequest(method, "/notify", strings.NewReader(body))
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		a.ServeHTTP(w, req)
		switch {
		case w.Code == http.StatusOK:
			if len(rec.events) != 1 || rec.events[0].Code == "" || rec.events[0].Type == "" {
				t.Fatalf("200 with events %v", rec.events)
			}
		case w.Code >= 400 && w.Code < 500:
			if len(rec.events) != 0 {
				t.Fatalf("%d but published %v", w.Code, rec.events)
			}
		default:
			t.Fatalf("status %d for %s %q %q %q", w.Code, method, query, ct, body)
		}
	})
}

// TestTriggerCodesNoPageCanHave: a code no page could register (longer
// than herald.MaxCodeBytes), or one that is not text (a JSON true, null or
// fraction), is refused with its reason, not published to wait for nobody
// nor called missing.
func TestTriggerCodesNoPageCanHave(t *testing.T) {
	long := strings.Repeat("c", herald.MaxCodeBytes+1)
	tests := []struct {
		name, body, want string
	}{
		{"a code past the limit", `{"code":"` + long + `","event":"x"}`, `code too long: at most 256 bytes`},
		{"a boolean code", `{"code":true,"event":"x"}`, `parameter \"code\" must be text or a whole number`},
		{"a fraction for a code", `{"code":1.5,"event":"x"}`, `parameter \"code\" must be text or a whole number`},
		{"a null code", `{"code":null,"event":"x"}`, `parameter \"code\" must be text or a whole number`},
		{"an object for an event", `{"code":"a","event":{}}`, `parameter \"event\" must be text or a whole number`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{pages: 1}
			p := paramsFor(rec)
			p.MaxBody = 4096
			a := Builtin(p, "", nil)
			req := httptest.NewRequest("POST", "/notify", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			a.ServeHTTP(w, req)
			if want := `{"success":0,"count":0,"msg":"` + tc.want + `"}`; w.Code != 400 || strings.TrimSpace(w.Body.String()) != want {
				t.Errorf("POST %.60s = %d %s, want 400 %s", tc.body, w.Code, w.Body, want)
			}
			if len(rec.events) != 0 {
				t.Errorf("published %d events, want none", len(rec.events))
			}
		})
	}
	// The longest code a page can have still goes out.
	rec := &recorder{pages: 1}
	p := paramsFor(rec)
	p.MaxBody = 4096
	req := httptest.NewRequest("POST", "/notify", strings.NewReader(`{"code":"`+long[1:]+`","event":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	Builtin(p, "", nil).ServeHTTP(w, req)
	if w.Code != 200 || len(rec.events) != 1 {
		t.Errorf("a code of %d bytes = %d %s, want 200 and one event", len(long)-1, w.Code, w.Body)
	}
}
