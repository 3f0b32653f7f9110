package kofi_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/internal/adaptertest"
	"github.com/heraldhq/herald/ingress/kofi"
)

const token = "kofi-fixture-token"

var now = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)

// TestCases runs testdata/<case>/: Ko-fi's documented payload for each
// type, privacy and personal-data handling, and refusals.
func TestCases(t *testing.T) {
	adaptertest.RunCases(t, kofi.New, "kofi")
}

func request(t testing.TB, name string) *http.Request {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name, "request.http"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := adaptertest.ParseRequest(adaptertest.RawRequest(b))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func serve(t testing.TB, a http.Handler, name string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	a.ServeHTTP(w, request(t, name))
	return w
}

func TestRetryPublishedOnce(t *testing.T) {
	a, rec := adaptertest.Build(t, kofi.New, "kofi", "verification_token: "+token, now)
	for i := range 2 {
		if w := serve(t, a, "donation"); w.Code != http.StatusOK {
			t.Fatalf("attempt %d: status = %d, want 200", i, w.Code)
		}
	}
	serve(t, a, "commission")
	if n := len(rec.Events()); n != 2 {
		t.Errorf("published %d events, want 2 (donation once, commission once)", n)
	}
	if got := a.(ingress.StatsReporter).Stats(); got != (ingress.Stats{Published: 2, Duplicates: 1}) {
		t.Errorf("Stats() = %+v", got)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		options string
		want    string
	}{
		{name: "token", options: "verification_token: abc"},
		{name: "forward", options: "verification_token: abc\nforward_personal_data: true"},
		{name: "empty token", options: "verification_token: ''", want: `rules.yaml:1:21: ingress "kofi": verification_token is required (Ko-fi shows it under Settings → API → Webhooks)`},
		{name: "no options", options: "", want: `rules.yaml: ingress "kofi": verification_token is required (Ko-fi shows it under Settings → API → Webhooks)`},
		{name: "typo", options: "verification_token: abc\nforward_personal: true", want: `rules.yaml:2:1: unknown key "forward_personal" (known: forward_personal_data, verification_token)`},
		{name: "not a bool", options: "verification_token: abc\nforward_personal_data: maybe", want: "cannot unmarshal !!str `maybe` into bool"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := adaptertest.Params(t, "kofi", tc.options, now, nil)
			_, err := kofi.New(p)
			got := ""
			if err != nil {
				got = err.Error()
			}
			// yamlpos words type errors itself (line only); the rest are exact.
			if got != tc.want && (tc.name != "not a bool" || !strings.Contains(got, tc.want)) {
				t.Errorf("New error = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestNothingPrivateLogged: neither the token nor a private supporter's
// name reaches the logs, refusals included.
func TestNothingPrivateLogged(t *testing.T) {
	var logs bytes.Buffer
	p, _ := adaptertest.Params(t, "kofi", "verification_token: "+token, now, &logs)
	a, err := kofi.New(p)
	if err != nil {
		t.Fatal(err)
	}
	p.Log.Info("built", "adapter", a)
	for _, c := range []string{"donation-private", "refuse-wrong-token", "refuse-missing-token", "donation-private"} {
		serve(t, a, c)
	}
	for _, secret := range []string{token, "Jo Private", "someone@example.com"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs.String())
		}
	}
	if n := strings.Count(logs.String(), "webhook refused"); n != 2 {
		t.Errorf("logged %d refusals, want 2:\n%s", n, logs.String())
	}
}

func TestPublishFailureLetsRetryThrough(t *testing.T) {
	p, rec := adaptertest.Params(t, "kofi", "verification_token: "+token, now, nil)
	a, err := kofi.New(p)
	if err != nil {
		t.Fatal(err)
	}
	rec.Fail = errors.New("closed")
	if w := serve(t, a, "donation"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", w.Code)
	}
	rec.Fail = nil
	if w := serve(t, a, "donation"); w.Code != http.StatusOK || len(rec.Events()) != 1 {
		t.Fatalf("retry: status %d, %d events; want 200 and 1", w.Code, len(rec.Events()))
	}
}

// TestOverRealHTTP posts the way Ko-fi does, through a listening server.
func TestOverRealHTTP(t *testing.T) {
	a, rec := adaptertest.Build(t, kofi.New, "kofi", "verification_token: "+token, now)
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	data := `{"verification_token":"` + token + `","message_id":"m-1","type":"Donation","is_public":true,"from_name":"Ada","message":"hi","amount":"3.00","currency":"USD","email":"ada@example.com"}`
	resp, err := http.PostForm(srv.URL, url.Values{"data": {data}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	evs := rec.Events()
	if len(evs) != 1 || evs[0].Type != "Donation" || evs[0].Data["from_name"] != "Ada" || evs[0].Data["email"] != nil {
		t.Errorf("published %+v, want one Donation from Ada without email", evs)
	}
}

// TestNumericMessageIDRetryPublishedOnce: a hand-made request whose
// message_id is a number is recognised when it comes again, as Ko-fi's
// string ids are; a number too big to hold exactly is not an id at all
// (two donations must never be taken for one).
func TestNumericMessageIDRetryPublishedOnce(t *testing.T) {
	a, rec := adaptertest.Build(t, kofi.New, "kofi", "verification_token: "+token, now)
	post := func(id string) {
		t.Helper()
		body := `{"verification_token": "` + token + `", "message_id": ` + id + `, "type": "Donation", "from_name": "Jo", "amount": "3.00"}`
		req := httptest.NewRequest(http.MethodPost, "/webhooks/kofi", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		a.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("message_id %s: status %d (%s), want 200", id, w.Code, w.Body)
		}
	}
	post("1234")
	post("1234")
	post("9007199254740991") // 2^53-1, the largest float64 holds apart from its neighbours
	post("9007199254740993") // 2^53+1: float64 reads it as 2^53
	post("9007199254740992") // 2^53
	var ids []string
	for _, e := range rec.Events() {
		ids = append(ids, e.ID)
	}
	if want := []string{"1234", "9007199254740991", "", ""}; !slices.Equal(ids, want) {
		t.Errorf("event ids %q, want %q: 1234 once, and two different big numbers never taken for one", ids, want)
	}
}
