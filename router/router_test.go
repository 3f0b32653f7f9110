package router_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/internal/yamlpos"
	"github.com/heraldhq/herald/router"
)

// recorder is an egress.Sink that remembers every delivery.
type recorder struct {
	mu         sync.Mutex
	deliveries []herald.Delivery
}

func (r *recorder) Deliver(_ context.Context, d herald.Delivery) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deliveries = append(r.deliveries, d)
	return 1, nil
}

func (r *recorder) Close(context.Context) error { return nil }

func (r *recorder) all() []herald.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]herald.Delivery(nil), r.deliveries...)
}

// echoAdapter answers with its instance name and the option keys it got.
type echoAdapter struct {
	name string
	keys []string
}

func (a echoAdapter) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	io.WriteString(w, a.name+":"+strings.Join(a.keys, ","))
}

func echoRegistry() *ingress.Registry {
	reg := ingress.NewRegistry()
	reg.Register("echo", func(p ingress.Params) (ingress.Adapter, error) {
		var keys []string
		for i := 0; p.Options != nil && i < len(p.Options.Content); i += 2 {
			keys = append(keys, p.Options.Content[i].Value)
		}
		if p.Options != nil && p.Options.Kind != yaml.MappingNode {
			return nil, errors.New("options are not a mapping")
		}
		return echoAdapter{name: p.Name, keys: keys}, nil
	})
	return reg
}

func newRouter(t *testing.T) (*router.Router, *recorder) {
	t.Helper()
	sink := &recorder{}
	return router.New(router.Options{Sinks: []egress.Sink{sink}, Registry: echoRegistry()}), sink
}

func TestDefaultRoutes(t *testing.T) {
	r, sink := newRouter(t)
	rc, err := r.Publish(t.Context(), herald.Event{Source: "trigger", Type: "new follow", Code: "abc", Data: map[string]any{"user": "ann"}})
	if err != nil || rc.Deliveries != 1 || rc.Pages != 1 {
		t.Fatalf("Publish(trigger event) = %+v, %v, want one delivery", rc, err)
	}
	got := sink.all()
	if len(got) != 1 || got[0].Room != "abc" || got[0].Name != "NEW_FOLLOW" || got[0].Payload["user"] != "ann" || got[0].EventID == "" {
		t.Errorf("delivered %+v, want NEW_FOLLOW to abc with the data and an event id", got)
	}
	if rc, _ := r.Publish(t.Context(), herald.Event{Source: "kofi", Type: "Donation"}); rc.Deliveries != 0 {
		t.Errorf("Publish(event without code) = %+v, want no deliveries", rc)
	}
	if st := r.Status(); st.Counters.Routed != 1 || st.Counters.Unrouted != 1 {
		t.Errorf("counters = %+v, want 1 routed and 1 unrouted", st.Counters)
	}
}

func TestReloadRoutesWithNewRules(t *testing.T) {
	r, sink := newRouter(t)
	err := r.Reload("rules.yaml", []byte(`version: 1
rules:
  - name: big
    when: source == "kofi" && data.amount >= 10
    emit: BIG_DONATION
    to: [alerts, chat, deck]
    set: {text: 'data.from_name + " sent " + string(data.amount)'}
  - name: drop-kofi
    when: source == "kofi"
    drop: true
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Publish(t.Context(), herald.Event{ID: "e1", Source: "kofi", Type: "Donation", Data: map[string]any{"amount": 12.0, "from_name": "Ann"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Publish(t.Context(), herald.Event{ID: "e2", Source: "kofi", Type: "Donation", Data: map[string]any{"amount": 2.0}}); err != nil {
		t.Fatal(err)
	}
	got := sink.all()
	if len(got) != 3 {
		t.Fatalf("delivered %d, want 3 (fan-out of e1; e2 dropped)", len(got))
	}
	for i, room := range []string{"alerts", "chat", "deck"} {
		d := got[i]
		if d.Room != room || d.Name != "BIG_DONATION" || d.Rule != "big" || d.EventID != "e1" || d.Payload["text"] != "Ann sent 12" {
			t.Errorf("delivery %d = %+v", i, d)
		}
	}
	st := r.Status()
	if st.Generation != 1 || st.Rules != 2 || st.Counters.Dropped != 1 || st.LastError != nil {
		t.Errorf("Status = %+v", st)
	}
}

func TestBadReloadKeepsRunningRules(t *testing.T) {
	r, sink := newRouter(t)
	good := []byte("version: 1\nrules:\n  - name: r\n    to: room\n")
	if err := r.Reload("rules.yaml", good); err != nil {
		t.Fatal(err)
	}
	err := r.Reload("rules.yaml", []byte("version: 1\nrules:\n  - name: r\n    when: dta.x\n    to: other\n"))
	var list yamlpos.List
	if !errors.As(err, &list) || !strings.HasPrefix(err.Error(), "rules.yaml:4:11: ") {
		t.Fatalf("Reload(bad expr) = %v, want a positioned yamlpos.List", err)
	}
	st := r.Status()
	if st.Generation != 1 || st.LastError == nil || !strings.Contains(st.LastError.Message, "unknown name dta") {
		t.Errorf("Status after bad reload = %+v", st)
	}
	r.Publish(t.Context(), herald.Event{Source: "s", Type: "x"})
	if got := sink.all(); len(got) != 1 || got[0].Room != "room" {
		t.Errorf("delivered %+v, want the old rules' room", got)
	}
	if err := r.Reload("rules.yaml", good); !errors.Is(err, router.ErrUnchanged) {
		t.Errorf("Reload(same bytes) = %v, want ErrUnchanged", err)
	}
}

func TestReloadMountsIngress(t *testing.T) {
	r, _ := newRouter(t)
	err := r.Reload("rules.yaml", []byte(`version: 1
ingress:
  one:
    type: echo
    path: /hooks/one
    token: ${HOME:-x}
    other: 1
`))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Handles("/hooks/one") || r.Handles("/hooks/two") {
		t.Fatal("Handles does not match the declared paths")
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/hooks/one", nil))
	if got := rec.Body.String(); got != "one:token,other" {
		t.Errorf("ingress answered %q, want its name and its own keys only (no type, path)", got)
	}
	err = r.Reload("rules.yaml", []byte("version: 1\ningress:\n  two:\n    type: ehco\n    path: /two\n"))
	if err == nil || !strings.Contains(err.Error(), `rules.yaml:3:3: ingress "two": unknown ingress type "ehco" (known: echo)`) {
		t.Errorf("Reload(unknown type) = %v", err)
	}
}

// TestPostToAnUndeclaredPathIsLogged: a webhook set up with another path
// than the rules file's gets 404 on the sender's side; herald says so in
// its log, naming the paths it has, once a minute per path.
func TestPostToAnUndeclaredPathIsLogged(t *testing.T) {
	var logs strings.Builder
	r := router.New(router.Options{Registry: echoRegistry(), Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := r.Reload("rules.yaml", []byte("version: 1\ningress:\n  kofi:\n    type: echo\n    path: /webhooks/kofi\n")); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/kofi", nil))
		if rec.Code != http.StatusNotFound {
			t.Fatalf("POST /kofi = %d, want 404", rec.Code)
		}
	}
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/favicon.png", nil))
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "path=/kofi declared=[/webhooks/kofi]") {
		t.Errorf("three POSTs to /kofi and a GET logged %d WARN lines, want 1 naming /kofi and the declared /webhooks/kofi:\n%s", n, logs.String())
	}
}

func TestCheckDoesNotSwap(t *testing.T) {
	r, _ := newRouter(t)
	set, err := r.Check("rules.yaml", []byte("version: 1\nrules:\n  - name: r\n    to: x\n"))
	if err != nil || set.Len() != 1 {
		t.Fatalf("Check = %v, %v", set, err)
	}
	if st := r.Status(); st.Generation != 0 || st.Rules != 0 {
		t.Errorf("Check changed the running rules: %+v", st)
	}
}

func TestRuntimeErrorsAreCountedAndEventKept(t *testing.T) {
	r, sink := newRouter(t)
	if err := r.Reload("rules.yaml", []byte("version: 1\nrules:\n  - name: big\n    when: data.amount >= 10\n    to: big\n")); err != nil {
		t.Fatal(err)
	}
	rc, err := r.Publish(t.Context(), herald.Event{Source: "trigger", Type: "x", Code: "abc"})
	if err != nil || rc.Deliveries != 1 || sink.all()[0].Room != "abc" {
		t.Fatalf("Publish = %+v, %v, want the default route after the rule failed", rc, err)
	}
	if n := r.Status().Counters.ExprErrors; n != 1 {
		t.Errorf("expr errors = %d, want 1", n)
	}
}

func TestFailingFileTestsAreReportedNotFatal(t *testing.T) {
	rt, _ := newRouter(t)
	file := `version: 1
rules:
  - {name: rename, when: 'type == "a"', emit: B}
tests:
  - name: passes
    event: {source: s, type: a, code: c}
    expect: [{room: c, name: B}]
  - name: fails
    event: {source: s, type: a, code: c}
    expect: [{room: c, name: WRONG}]
`
	if err := rt.Reload("rules.yaml", []byte(file)); err != nil {
		t.Fatalf("a file whose own tests fail must still load: %v", err)
	}
	st := rt.Status()
	if st.Tests.Run != 2 || st.Tests.Failed != 1 || len(st.Tests.Failures) == 0 ||
		!strings.Contains(st.Tests.Failures[0], "rules.yaml:") {
		t.Fatalf("Status().Tests = %+v, want 2 run, 1 failed with a positioned failure", st.Tests)
	}
}

func TestBuiltInPathsAndNamesAreRefused(t *testing.T) {
	reg := echoRegistry()
	rt := router.New(router.Options{Registry: reg, Reserved: []string{"/notify", "/sources/"}, ReservedNames: []string{"trigger"}})
	tests := []struct {
		name, block, want string
	}{
		{name: "a built-in path", block: "hook: {type: echo, path: /notify}", want: "path /notify is herald's own"},
		{name: "below a built-in subtree", block: "hook: {type: echo, path: /sources/hook}", want: "path /sources/hook is herald's own (/sources/ is built in)"},
		{name: "a built-in subtree without its slash", block: "hook: {type: echo, path: /sources}", want: "is herald's own"},
		{name: "a built-in name", block: "trigger: {type: echo, path: /t}", want: `ingress "trigger": the name is herald's own`},
		{name: "climbing into a built-in subtree", block: "hook: {type: echo, path: /hooks/../sources/x}", want: "redirected to /sources/x and never arrive"},
		{name: "every path", block: "hook: {type: echo, path: /}", want: "would catch every path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := rt.Reload("rules.yaml", []byte("version: 1\ningress:\n  "+tc.block+"\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Reload = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestRevertingABrokenSaveClearsTheError(t *testing.T) {
	rt, _ := newRouter(t)
	good := []byte("version: 1\nrules: []\n")
	if err := rt.Reload("rules.yaml", good); err != nil {
		t.Fatal(err)
	}
	if err := rt.Reload("rules.yaml", []byte("version: 1\nrules: [\n")); err == nil {
		t.Fatal("a broken file loaded")
	}
	if rt.Status().LastError == nil {
		t.Fatal("Status shows no error after a broken save")
	}
	if err := rt.Reload("rules.yaml", good); err != router.ErrUnchanged {
		t.Fatalf("reverting = %v, want ErrUnchanged", err)
	}
	if le := rt.Status().LastError; le != nil {
		t.Errorf("after reverting, Status still shows %q", le.Message)
	}
}

// pageless is an egress.Sink with no page in any room.
type pageless struct{}

func (pageless) Deliver(context.Context, herald.Delivery) (int, error) { return 0, nil }
func (pageless) Close(context.Context) error                           { return nil }

// TestReceiptSaysDroppedOrUnrouted: the receipt says why an event reached
// no page, and so does the log, at INFO, whatever ingress it came from.
func TestReceiptSaysDroppedOrUnrouted(t *testing.T) {
	var logs lockedBuffer
	r := router.New(router.Options{Sinks: []egress.Sink{pageless{}}, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := r.Reload("rules.yaml", []byte("version: 1\nrules:\n  - name: quiet\n    when: type == \"x\"\n    drop: true\n")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		ev      herald.Event
		want    herald.Receipt
		wantLog string
	}{
		{name: "dropped", ev: herald.Event{ID: "1", Source: "kofi", Type: "x"}, want: herald.Receipt{EventID: "1", Dropped: "quiet"},
			wantLog: `level=INFO msg="alert reached no page: dropped by a rule" component=router event_id=1 source=kofi event_type=x rule=quiet`},
		{name: "unrouted", ev: herald.Event{ID: "2", Source: "twitch", Type: "y"}, want: herald.Receipt{EventID: "2", Unrouted: true},
			wantLog: `level=INFO msg="alert reached no page: no rule routed it" component=router event_id=2 source=twitch event_type=y`},
		{name: "no page in its room", ev: herald.Event{ID: "3", Source: "trigger", Type: "y", Code: "abc"}, want: herald.Receipt{EventID: "3", Deliveries: 1},
			wantLog: `level=INFO msg="alert reached no page: none connected to its room" component=router event_id=3 source=trigger event_type=y`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := r.Publish(t.Context(), tc.ev)
			if err != nil || rc != tc.want {
				t.Errorf("Publish(%+v) = %+v, %v, want %+v", tc.ev, rc, err, tc.want)
			}
			if got := logs.String(); strings.Count(got, `event_id=`+tc.ev.ID+` `) != 1 || !strings.Contains(got, tc.wantLog) {
				t.Errorf("log = %q, want one line %q", got, tc.wantLog)
			}
		})
	}
}

// TestRuleErrorsPerRule checks that a failing set field is counted under
// its rule in Status and logged once per interval, while the alert goes out.
func TestRuleErrorsPerRule(t *testing.T) {
	var logs strings.Builder
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sink := &recorder{}
	r := router.New(router.Options{Sinks: []egress.Sink{sink}, Now: func() time.Time { return now },
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := r.Reload("rules.yaml", []byte("version: 1\nrules:\n  - name: raid\n    to: alerts\n    set:\n      text: data.from + \" brings \" + data.viewers\n")); err != nil {
		t.Fatal(err)
	}
	ev := herald.Event{Source: "twitch", Type: "channel.raid", Data: map[string]any{"from": "ann", "viewers": 5.0}}
	for range 3 {
		if rc, err := r.Publish(t.Context(), ev); err != nil || rc.Deliveries != 1 {
			t.Fatalf("Publish = %+v, %v, want the alert delivered despite the failing field", rc, err)
		}
	}
	now = now.Add(2 * time.Minute)
	r.Publish(t.Context(), ev)
	if d := sink.all()[0]; d.Payload["text"] != nil || d.Payload["from"] != "ann" {
		t.Errorf("payload = %v, want the data without the failed text field", d.Payload)
	}
	st := r.Status().RuleErrors["raid"]
	if st.Count != 4 || st.Skipped != 0 || !strings.Contains(st.Last, "rules.yaml:6:") {
		t.Errorf("RuleErrors[raid] = %+v, want 4 failures, none skipping the rule, positioned", st)
	}
	if n := strings.Count(logs.String(), "rule part left out"); n != 2 {
		t.Errorf("logged %d times, want 2 (once per interval):\n%s", n, logs.String())
	}
}

func TestStatusShowsWarnings(t *testing.T) {
	shapes := ingress.NewShapeRegistry()
	shapes.Register("trigger", []herald.Shape{{Rest: herald.KindString}})
	r := router.New(router.Options{ReservedNames: []string{"trigger"}, Shapes: shapes})
	if err := r.Reload("rules.yaml", []byte("version: 1\nrules:\n  - name: t\n    when: source == \"trigger\" && data.test == 1\n    drop: true\n")); err != nil {
		t.Fatal(err)
	}
	w := r.Status().Warnings
	if len(w) != 1 || !strings.Contains(w[0], `rules.yaml:4:44: warning: rule "t": when: data.test is a string`) {
		t.Errorf("Status().Warnings = %q, want the positioned warning about data.test == 1", w)
	}
}

// TestReloadWarnsAboutDoubleQuotedExpression: a double-quoted set value
// is text, so one that used to be a number or an expression loads as text
// with a positioned warning, logged on the reload and shown in Status.
func TestReloadWarnsAboutDoubleQuotedExpression(t *testing.T) {
	var logs strings.Builder
	sink := &recorder{}
	r := router.New(router.Options{Sinks: []egress.Sink{sink}, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := r.Reload("rules.yaml", []byte("version: 1\nrules:\n  - name: tip\n    to: alerts\n    set:\n      text: \"Thanks for the donation!\"\n      count: \"5\"\n")); err != nil {
		t.Fatal(err)
	}
	const want = `rules.yaml:7:14: warning: rule "tip": set.count: "5" is the text "5" now (double quotes make text); for the number write count: 5`
	if w := r.Status().Warnings; len(w) != 1 || w[0] != want {
		t.Errorf("Status().Warnings = %q, want [%q]", w, want)
	}
	if !strings.Contains(logs.String(), `msg="rules warning"`) || !strings.Contains(logs.String(), `set.count: \"5\" is the text`) {
		t.Errorf("log = %q, want the warning logged on the reload", logs.String())
	}
	if rc, err := r.Publish(t.Context(), herald.Event{Source: "trigger", Type: "tip"}); err != nil || rc.Deliveries != 1 {
		t.Fatalf("Publish = %+v, %v", rc, err)
	}
	if p := sink.all()[0].Payload; p["text"] != "Thanks for the donation!" || p["count"] != "5" {
		t.Errorf("payload = %v, want the text as written", p)
	}
}
