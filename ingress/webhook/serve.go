package webhook

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingress"
	"github.com/heraldhq/herald/ingress/internal/sig"
)

// ServeHTTP handles one webhook request.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := a.serve(w, r); err != nil {
		a.Refuse(w, a.p.Log, err)
	}
}

func (a *Adapter) serve(w http.ResponseWriter, r *http.Request) error {
	body, err := ingress.ReadPost(w, r, a.p.MaxBody)
	if err != nil {
		return err
	}
	if a.verify != nil {
		if err := a.verify(r.Header, body, a.p.Now()); err != nil {
			return sig.Refusal(err)
		}
	}
	data, err := Parse(r.Header.Get("Content-Type"), body)
	if err != nil {
		return err
	}
	ev, err := a.build(r, data, body)
	if err != nil {
		return err
	}
	dedupe := ev.ID != "" && a.p.State != nil
	if dedupe && a.p.State.Seen(ev.ID, a.p.Now(), a.window) {
		a.Duplicate(w, a.p.Log, ev.ID)
		return nil
	}
	if !a.Publish(w, r, a.p.Log, a.p.Publish, ev) && dedupe {
		a.p.State.Forget(ev.ID)
	}
	return nil
}

// build evaluates the instance's expressions over a verified request.
func (a *Adapter) build(r *http.Request, data map[string]any, body []byte) (herald.Event, error) {
	env := newEnv(r, data, body)
	ev := herald.Event{Source: a.p.Name, Type: DefaultType, Data: data, Headers: env.Headers, Received: a.p.Now()}
	if a.event != nil {
		typ, err := a.event.eval(env)
		if err != nil {
			return ev, ingress.Errorf(http.StatusBadRequest, "%v", err)
		}
		if typ == "" {
			return ev, ingress.Errorf(http.StatusBadRequest, "event: no event type in this request")
		}
		ev.Type = typ
	}
	var err error
	if ev.ID, err = a.id.eval(env); err != nil {
		return ev, ingress.Errorf(http.StatusBadRequest, "%v", err)
	}
	if ev.ID == "" && a.standard {
		ev.ID, _, _ = sig.StandardHeaders(r.Header) // the scheme's idempotency key
	}
	if ev.Code, err = a.code.eval(env); err != nil {
		return ev, ingress.Errorf(http.StatusBadRequest, "%v", err)
	}
	return ev, nil
}

// Parse decodes a body into event data: a form's fields (one value as a
// string, several as a list), a JSON object as is, any other JSON value
// under "payload", and an empty body as no fields.
func Parse(contentType string, body []byte) (map[string]any, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, ingress.Errorf(http.StatusBadRequest, "malformed form body")
		}
		data := make(map[string]any, len(form))
		for k, vs := range form {
			if len(vs) == 1 {
				data[k] = vs[0]
				continue
			}
			list := make([]any, len(vs))
			for i, v := range vs {
				list[i] = v
			}
			data[k] = list
		}
		return data, nil
	}
	if len(body) == 0 {
		return map[string]any{}, nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, ingress.Errorf(http.StatusBadRequest, "malformed JSON body")
	}
	if m, ok := v.(map[string]any); ok {
		return m, nil
	}
	return map[string]any{"payload": v}, nil
}
