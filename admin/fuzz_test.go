package admin

import (
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/router"
)

// FuzzArrivedView feeds outside data (a webhook's JSON body, its headers)
// through what the dashboard shows: it never panics, always encodes, and
// no value under a secret key or header survives at any depth.
func FuzzArrivedView(f *testing.F) {
	f.Add([]byte(`{"user":"ada","token":"t","nested":{"Email":"a@b","list":[{"password":"p"}]}}`), "Authorization", "Bearer x")
	f.Add([]byte(`{"shipping":{"street":"1 Loop"},"amount":5}`), "X-Hub-Signature-256", "sha256=00")
	f.Add([]byte(`[]`), "X-Forwarded-For", "203.0.113.9")
	f.Fuzz(func(t *testing.T, body []byte, header, value string) {
		var data map[string]any
		if json.Unmarshal(body, &data) != nil {
			return
		}
		ev := herald.Event{ID: "e", Data: data, Headers: map[string]string{header: value}}
		v := record{obs: router.Observation{Event: ev}}.view()
		if _, err := json.Marshal(v); err != nil {
			t.Fatalf("view does not encode: %v", err)
		}
		var check func(m map[string]any)
		check = func(m map[string]any) {
			for k, x := range m {
				if secretKey(k) && x != "(hidden)" {
					t.Fatalf("secret key %q shown as %v", k, x)
				}
				walk(x, check)
			}
		}
		check(v.Arrived.Data)
		if secretHeader(header) && v.Arrived.Headers[header] != "(hidden)" {
			t.Fatalf("header %q shown as %q", header, v.Arrived.Headers[header])
		}
	})
}

func walk(x any, check func(map[string]any)) {
	switch x := x.(type) {
	case map[string]any:
		check(x)
	case []any:
		for _, e := range x {
			walk(e, check)
		}
	}
}
