// Package adaptertest is the shared test kit of the ingress adapters: a
// recording Publisher, Params built from YAML text, and the runner for
// testdata/<case>/ folders (request.http + want.json [+ config.yaml]) that
// also seeds the fuzz targets.
package adaptertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingress"
)

// Recorder is a herald.Publisher that keeps what it is given.
type Recorder struct {
	mu     sync.Mutex
	events []herald.Event
	// Fail, when set, is returned by Publish instead of recording.
	Fail error
}

// Publish records ev and reports one delivery to one page.
func (r *Recorder) Publish(_ context.Context, ev herald.Event) (herald.Receipt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Fail != nil {
		return herald.Receipt{}, r.Fail
	}
	r.events = append(r.events, ev)
	return herald.Receipt{EventID: ev.ID, Deliveries: 1, Pages: 1}, nil
}

// Events returns the events recorded so far.
func (r *Recorder) Events() []herald.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]herald.Event(nil), r.events...)
}

// Node parses YAML text into its top mapping node ("" gives nil).
func Node(t testing.TB, text string) *yaml.Node {
	t.Helper()
	if strings.TrimSpace(text) == "" {
		return nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("options YAML: %v", err)
	}
	return doc.Content[0]
}

// Params returns Params for instance name of type typ with options given as
// YAML text, a recorder, a fresh State, and the clock fixed at now. Logs
// go to buf when it is non-nil.
func Params(t testing.TB, typ, options string, now time.Time, buf io.Writer) (ingress.Params, *Recorder) {
	t.Helper()
	if buf == nil {
		buf = io.Discard
	}
	rec := &Recorder{}
	return ingress.Params{
		Name: typ, Type: typ, Path: "/webhooks/" + typ, Options: Node(t, options), File: "rules.yaml",
		Publish: rec, Log: slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		State: ingress.NewState(), Now: func() time.Time { return now }, MaxBody: 64 << 10,
	}, rec
}

// Build calls factory with Params and fails the test on error.
func Build(t testing.TB, factory ingress.Factory, typ, options string, now time.Time) (ingress.Adapter, *Recorder) {
	t.Helper()
	p, rec := Params(t, typ, options, now, nil)
	a, err := factory(p)
	if err != nil {
		t.Fatalf("%s factory: %v", typ, err)
	}
	return a, rec
}

// RawRequest turns a request.http file into wire bytes: header lines get
// CRLF endings and a computed Content-Length, and the body is everything
// after the first blank line minus one trailing newline (editors add one).
func RawRequest(file []byte) []byte {
	file = bytes.ReplaceAll(file, []byte("\r\n"), []byte("\n"))
	head, body, _ := bytes.Cut(file, []byte("\n\n"))
	body = bytes.TrimSuffix(body, []byte("\n"))
	var b bytes.Buffer
	for _, line := range strings.Split(string(head), "\n") {
		if strings.HasPrefix(strings.ToLower(line), "content-length:") {
			continue
		}
		b.WriteString(line + "\r\n")
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	b.Write(body)
	return b.Bytes()
}

// ParseRequest reads wire bytes as a server would.
func ParseRequest(raw []byte) (*http.Request, error) {
	return http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
}

// Want is a case's want.json.
type Want struct {
	// Now is the clock the adapter sees.
	Now time.Time `json:"now"`
	// Status is the expected HTTP status.
	Status int `json:"status"`
	// Body, when set, is the exact expected response body.
	Body string `json:"body"`
	// Contains, when set, must occur in the response body.
	Contains string `json:"contains"`
	// Events are the expected published events, in order.
	Events []Event `json:"events"`
}

// Event is an expected event: ID, Type, Code and Data must match exactly;
// Headers lists headers that must be present with these values, and
// Absent names headers (or Data keys, prefixed "data.") that must not be.
type Event struct {
	ID      string            `json:"id"`
	Type    string            `json:"type"`
	Code    string            `json:"code"`
	Data    map[string]any    `json:"data"`
	Headers map[string]string `json:"headers"`
	Absent  []string          `json:"absent"`
}

// Cases lists the case folders under testdata.
func Cases(t testing.TB) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "request.http"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no testdata/*/request.http cases (%v)", err)
	}
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	return dirs
}

// Seed adds every case's wire request to a fuzz corpus.
func Seed(f *testing.F) {
	for _, dir := range Cases(f) {
		b, err := os.ReadFile(filepath.Join(dir, "request.http"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(RawRequest(b))
	}
}

// RunCases runs every testdata case against an adapter built by factory
// from the case's config.yaml, or testdata/config.yaml when it has none.
func RunCases(t *testing.T, factory ingress.Factory, typ string) {
	for _, dir := range Cases(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			runCase(t, factory, typ, dir)
		})
	}
}

func runCase(t *testing.T, factory ingress.Factory, typ, dir string) {
	t.Helper()
	var want Want
	if err := json.Unmarshal(read(t, dir, "want.json"), &want); err != nil {
		t.Fatalf("want.json: %v", err)
	}
	config := read(t, dir, "config.yaml")
	if config == nil {
		config = read(t, "testdata", "config.yaml")
	}
	a, rec := Build(t, factory, typ, string(config), want.Now)
	req, err := ParseRequest(RawRequest(read(t, dir, "request.http")))
	if err != nil {
		t.Fatalf("request.http: %v", err)
	}
	w := httptest.NewRecorder()
	a.ServeHTTP(w, req)
	if w.Code != want.Status {
		t.Errorf("status = %d, want %d (body %s)", w.Code, want.Status, w.Body)
	}
	if want.Body != "" && w.Body.String() != want.Body {
		t.Errorf("body = %q, want %q", w.Body, want.Body)
	}
	if !strings.Contains(w.Body.String(), want.Contains) {
		t.Errorf("body = %q, want it to contain %q", w.Body, want.Contains)
	}
	CheckEvents(t, rec.Events(), want.Events)
}

// CheckEvents compares published events with expectations.
func CheckEvents(t testing.TB, got []herald.Event, want []Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("published %d events, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.ID || g.Type != w.Type || g.Code != w.Code {
			t.Errorf("event %d = {ID:%q Type:%q Code:%q}, want {ID:%q Type:%q Code:%q}", i, g.ID, g.Type, g.Code, w.ID, w.Type, w.Code)
		}
		if data := JSONData(t, g.Data); !reflect.DeepEqual(data, w.Data) {
			t.Errorf("event %d data = %v, want %v", i, data, w.Data)
		}
		for k, v := range w.Headers {
			if g.Headers[k] != v {
				t.Errorf("event %d header %s = %q, want %q", i, k, g.Headers[k], v)
			}
		}
		for _, k := range w.Absent {
			if name, ok := strings.CutPrefix(k, "data."); ok {
				if _, found := g.Data[name]; found {
					t.Errorf("event %d data has %q, want it absent", i, name)
				}
			} else if _, found := g.Headers[k]; found {
				t.Errorf("event %d has header %s, want it absent", i, k)
			}
		}
	}
}

// JSONData normalises data through JSON, as pages will see it.
func JSONData(t testing.TB, data map[string]any) map[string]any {
	t.Helper()
	if data == nil {
		return nil
	}
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatalf("data does not encode as JSON: %v", err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func read(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if os.IsNotExist(err) && name == "config.yaml" {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}
