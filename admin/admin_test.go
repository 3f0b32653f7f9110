package admin

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/router"
	"github.com/heraldhq/herald/rules"
)

func TestArrivedEventHidesSecretsAndPersonalData(t *testing.T) {
	ev := herald.Event{ID: "e", Source: "webhook", Type: "donation",
		Data: map[string]any{"user": "ada", "token": "t0k", "Email": "ada@example.com",
			"nested": map[string]any{"shipping": map[string]any{"street": "1 Loop"}, "amount": 5.0},
			"list":   []any{map[string]any{"password": "p"}, "plain"},
			"e_mail": "a@b", "userEmail": "a@b", "ip_address": "203.0.113.9", "user_ip": "203.0.113.9", "tip": 3.0,
			"pass": "hunter2", "credit_card": "4111111111111111", "compass": "north"},
		Headers: map[string]string{"User-Agent": "kofi", "Authorization": "Bearer x", "X-Hub-Signature-256": "sha256=…",
			"X-Forwarded-For": "203.0.113.9", "Kofi-Private-Message": "hi", "Cookie": "a=b", "Content-Type": "application/json",
			"Cf-Connecting-Ip": "203.0.113.9", "Cf-Connecting-Ipv6": "2001:db8::1", "X-Envoy-External-Address": "203.0.113.9",
			"Fastly-Client-Ip": "203.0.113.9", "X-Zip": "shown", "X-Auth": "sekrit"},
	}
	v := record{obs: router.Observation{Event: ev}}.view()
	wantData := map[string]any{"user": "ada", "token": "(hidden)", "Email": "(hidden)",
		"nested": map[string]any{"shipping": "(hidden)", "amount": 5.0},
		"list":   []any{map[string]any{"password": "(hidden)"}, "plain"},
		"e_mail": "(hidden)", "userEmail": "(hidden)", "ip_address": "(hidden)", "user_ip": "(hidden)", "tip": 3.0,
		"pass": "(hidden)", "credit_card": "(hidden)", "compass": "north"}
	if !reflect.DeepEqual(v.Arrived.Data, wantData) {
		t.Errorf("arrived data = %v, want %v", v.Arrived.Data, wantData)
	}
	wantHeaders := map[string]string{"User-Agent": "kofi", "Authorization": "(hidden)", "X-Hub-Signature-256": "(hidden)",
		"X-Forwarded-For": "(hidden)", "Kofi-Private-Message": "(hidden)", "Cookie": "(hidden)", "Content-Type": "application/json",
		"Cf-Connecting-Ip": "(hidden)", "Cf-Connecting-Ipv6": "(hidden)", "X-Envoy-External-Address": "(hidden)",
		"Fastly-Client-Ip": "(hidden)", "X-Zip": "shown", "X-Auth": "(hidden)"}
	if !reflect.DeepEqual(v.Arrived.Headers, wantHeaders) {
		t.Errorf("arrived headers = %v, want %v", v.Arrived.Headers, wantHeaders)
	}
	if ev.Data["token"] != "t0k" {
		t.Error("view modified the event's own data")
	}
}

func TestOutcomes(t *testing.T) {
	d := []herald.Delivery{{Room: "c", Name: "X"}}
	tests := []struct {
		name string
		res  rules.Result
		want string
	}{
		{name: "a rule acted", res: rules.Result{Matched: []string{"r"}, Deliveries: d}, want: "rule"},
		{name: "default route", res: rules.Result{Deliveries: d}, want: "default"},
		{name: "drop rule", res: rules.Result{Matched: []string{"r"}, Dropped: true}, want: "dropped"},
		{name: "nothing", res: rules.Result{Unrouted: true}, want: "unrouted"},
	}
	for _, tc := range tests {
		if got := (record{obs: router.Observation{Result: tc.res}}).view().Outcome; got != tc.want {
			t.Errorf("%s: outcome = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestStreamSendsHistoryEventsAndAcks reads the real SSE stream: the
// history first, then a new event, then the same event again with its ack.
func TestStreamSendsHistoryEventsAndAcks(t *testing.T) {
	d := New(Options{Token: "t", Status: router.New(router.Options{}).Status})
	now := time.Now()
	obs := func(id string) router.Observation {
		o := router.Observation{Event: herald.Event{ID: id, Source: "trigger", Type: "follow", Code: "c", Received: now},
			Result: rules.Result{Deliveries: []herald.Delivery{{EventID: id, Room: "c", Name: "FOLLOW", Offset: uint64(len(id))}}}, Done: now}
		o.Pages.Add(0, 1)
		return o
	}
	d.Observe(obs("before"))
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	id, _ := d.sessions.create()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/admin/stream", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: id})
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream = %v, %v", resp, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	next := func(want string) []byte {
		t.Helper()
		var event string
		for sc.Scan() {
			line := sc.Text()
			if e, ok := strings.CutPrefix(line, "event: "); ok {
				event = e
			} else if data, ok := strings.CutPrefix(line, "data: "); ok && event == want {
				return []byte(data)
			}
		}
		t.Fatalf("stream ended before a %q event: %v", want, sc.Err())
		return nil
	}
	var hist []eventView
	if err := json.Unmarshal(next("history"), &hist); err != nil || len(hist) != 1 || hist[0].ID != "before" {
		t.Fatalf("history = %+v, %v; want the event from before", hist, err)
	}
	d.Observe(obs("live"))
	var ev eventView
	if err := json.Unmarshal(next("event"), &ev); err != nil || ev.ID != "live" || ev.Deliveries[0].Pages != 1 {
		t.Fatalf("event = %+v, %v; want live with 1 page", ev, err)
	}
	d.Acked("c", uint64(len("live"))) // the journal offset the page acked
	if err := json.Unmarshal(next("event"), &ev); err != nil || ev.ID != "live" || ev.Deliveries[0].Acks != 1 {
		t.Fatalf("after ack = %+v, %v; want live with 1 ack", ev, err)
	}
}
