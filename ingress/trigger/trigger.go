// Package trigger is the ingress behind the original service's trigger URL,
// GET /notify?code=C&event=E&k=v…: bots, Stream Deck buttons and scripts
// fire alerts with a plain HTTP request.
//
// Every parameter, code and event included, becomes the event's data; the
// event's type is the event parameter and its code the code parameter, so
// the router's default route delivers it to the pages registered under C as
// E upper-cased, exactly as the seed did. The same parameters are accepted
// as a POST form or a POST JSON object.
package trigger

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/internal/yamlpos"
)

func init() { ingress.Register("trigger", New) }

// Config is the instance's block in the rules file.
type Config struct {
	// Token, when set, must be sent as ?token=… or "Authorization: Bearer …".
	// It is removed from the event data. The built-in /notify has none, like
	// the seed; declare a second trigger instance with a token to expose one
	// beyond localhost.
	Token string `yaml:"token"`
}

// Adapter serves one trigger URL.
type Adapter struct {
	*ingress.Counters
	p     ingress.Params
	token string
	// codeKeys are per-code keys of the built-in /notify: a code listed
	// here needs its own key (or the instance token, the master key).
	codeKeys map[string]string
}

var _ ingress.Adapter = (*Adapter)(nil)

// Builtin builds the server's own /notify: the seed's trigger URL, open
// when token is "" and otherwise guarded by it exactly as a rules-file
// instance's token guards that instance (--trigger-key). codeKeys
// (--code-key CODE=KEY) guard single codes: a trigger for such a code
// needs its key or token.
func Builtin(p ingress.Params, token string, codeKeys map[string]string) *Adapter {
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{Counters: p.Counters(), p: p, token: token, codeKeys: codeKeys}
}

// New builds a trigger adapter from its rules-file block.
func New(p ingress.Params) (ingress.Adapter, error) {
	var cfg Config
	if err := yamlpos.DecodeStrict(p.File, p.Options, &cfg); err != nil {
		return nil, err
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{Counters: p.Counters(), p: p, token: cfg.Token}, nil
}

// response is the seed's answer, field order included, plus what the
// seed could not say: the rule that dropped the event, or that nothing
// routed it (a count of 0 alone cannot tell those from "no page open").
type response struct {
	Success  int    `json:"success"`
	Count    int    `json:"count"`
	Msg      string `json:"msg"`
	Dropped  string `json:"dropped,omitempty"`
	Unrouted bool   `json:"unrouted,omitempty"`
}

// ServeHTTP implements http.Handler.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	params, err := a.params(w, r)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	code, event := text(params["code"]), text(params["event"])
	switch {
	case code == "" && given(params, "code"):
		a.refuse(w, r, ingress.Errorf(http.StatusBadRequest, `parameter "code" must be text or a whole number`))
		return
	case code == "":
		a.refuse(w, r, ingress.Errorf(http.StatusBadRequest, `missing required parameter "code"`))
		return
	case len(code) > herald.MaxCodeBytes:
		// No page can register it: the alert would wait for nobody.
		a.refuse(w, r, ingress.Errorf(http.StatusBadRequest, "code too long: at most %d bytes", herald.MaxCodeBytes))
		return
	case event == "" && given(params, "event"):
		a.refuse(w, r, ingress.Errorf(http.StatusBadRequest, `parameter "event" must be text or a whole number`))
		return
	case event == "":
		a.refuse(w, r, ingress.Errorf(http.StatusBadRequest, `missing required parameter "event"`))
		return
	}
	rc, err := a.p.Publish.Publish(r.Context(), herald.Event{
		Source: a.p.Name, Type: event, Code: code, Data: params,
		Headers: ingress.Headers(r.Header), Received: a.now(),
	})
	if err != nil {
		a.refuse(w, r, ingress.NotDelivered(err))
		return
	}
	a.Count(true)
	ingress.WriteJSON(w, http.StatusOK, response{
		Success: 1, Count: rc.Pages, Msg: fmt.Sprintf("Broadcast event to %d clients", rc.Pages),
		Dropped: rc.Dropped, Unrouted: rc.Unrouted,
	})
}

func (a *Adapter) refuse(w http.ResponseWriter, r *http.Request, err error) {
	a.Refused(err)
	a.p.Log.Debug("trigger refused", "err", err, "remote", r.RemoteAddr)
	if he, ok := err.(*ingress.Error); ok {
		if he.Status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "GET, POST")
		}
		ingress.WriteJSON(w, he.Status, response{Success: 0, Msg: he.Reason})
		return
	}
	ingress.WriteError(w, err)
}

// params gathers the request's parameters: the query string, then a POST
// form or JSON object on top.
func (a *Adapter) params(w http.ResponseWriter, r *http.Request) (map[string]any, error) {
	// HEAD is refused too: a link preview must not fire an alert.
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return nil, ingress.Errorf(http.StatusMethodNotAllowed, "method %s not allowed", r.Method)
	}
	// The query carries an alert as a body does (GET /notify?...), so the
	// body limit holds for it too: past it, a 500 KB alert would be
	// journaled and sent where a POST of the same is refused.
	if a.p.MaxBody > 0 && int64(len(r.URL.RawQuery)) > a.p.MaxBody {
		return nil, ingress.Errorf(http.StatusRequestEntityTooLarge, "query string larger than %d bytes", a.p.MaxBody)
	}
	// Query() would drop a query it cannot parse (more than 10,000
	// parameters, a bad escape) and the sender would hear "missing code".
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, ingress.Errorf(http.StatusBadRequest, "malformed query string: %v", err)
	}
	params := flatten(query)
	if r.Method == http.MethodPost {
		if err := a.mergeBody(w, r, params); err != nil {
			return nil, err
		}
	}
	if err := a.checkToken(r, params); err != nil {
		return nil, err
	}
	return params, nil
}

func (a *Adapter) mergeBody(w http.ResponseWriter, r *http.Request, params map[string]any) error {
	body, err := ingress.ReadBody(w, r, a.p.MaxBody)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var obj map[string]any
		if err := json.Unmarshal(body, &obj); err != nil {
			return ingress.Errorf(http.StatusBadRequest, "body is not a JSON object: %v", err)
		}
		for k, v := range obj {
			params[k] = v
		}
	case "application/x-www-form-urlencoded", "":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return ingress.Errorf(http.StatusBadRequest, "malformed form body: %v", err)
		}
		for k, v := range flatten(form) {
			params[k] = v
		}
	default:
		return ingress.Errorf(http.StatusUnsupportedMediaType, "unsupported content type %q (use a query string, a form or JSON)", ct)
	}
	return nil
}

func (a *Adapter) checkToken(r *http.Request, params map[string]any) error {
	codeKey := a.codeKeys[text(params["code"])]
	if a.token == "" && codeKey == "" {
		return nil
	}
	got, _ := params["token"].(string)
	delete(params, "token")
	if bearer, ok := ingress.BearerToken(r.Header); ok {
		got = bearer
	}
	// Both comparisons always run, so the answer's timing tells nothing
	// about which key exists.
	okToken := a.token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(a.token)) == 1
	okCode := codeKey != "" && subtle.ConstantTimeCompare([]byte(got), []byte(codeKey)) == 1
	if !okToken && !okCode {
		return ingress.Errorf(http.StatusUnauthorized, "missing or wrong token")
	}
	return nil
}

func (a *Adapter) now() time.Time {
	if a.p.Now != nil {
		return a.p.Now()
	}
	return time.Now()
}

// text is a parameter as a string (herald.CodeText: a JSON body may carry
// a number, {"code": 1234}, taken as its decimal text like REGISTER does).
func text(v any) string { return herald.CodeText(v) }

// given reports whether params has key with something other than an
// empty text: a value text cannot read (a JSON true, null or fraction) is
// the wrong type, not missing.
func given(params map[string]any, key string) bool {
	v, ok := params[key]
	return ok && v != ""
}

// flatten keeps the first value of each parameter, as the seed's handler did.
func flatten(v url.Values) map[string]any {
	out := make(map[string]any, len(v))
	for k, vals := range v {
		if len(vals) > 0 {
			out[k] = vals[0]
		}
	}
	return out
}
