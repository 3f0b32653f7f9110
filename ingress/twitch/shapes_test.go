package twitch_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingress/twitch"
)

// TestShapesMatchRecordings reads every recorded Twitch CLI notification
// in testdata and checks that each field of its event object is declared,
// with the JSON kind it really has: a shape that drifted from Twitch would
// make herald check refuse good rules.
func TestShapesMatchRecordings(t *testing.T) {
	byType := map[string]herald.Shape{}
	for _, sh := range twitch.Shapes {
		byType[sh.Type] = sh
	}
	dirs, err := filepath.Glob("testdata/*.notification")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no recorded notifications: %v", err)
	}
	for _, dir := range dirs {
		typ := strings.TrimSuffix(filepath.Base(dir), ".notification")
		t.Run(typ, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "request.http"))
			if err != nil {
				t.Fatal(err)
			}
			_, body, _ := strings.Cut(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n\n")
			var msg struct {
				Event map[string]any `json:"event"`
			}
			if err := json.Unmarshal([]byte(body), &msg); err != nil {
				t.Fatal(err)
			}
			sh, ok := byType[typ]
			if !ok {
				t.Fatalf("no shape for recorded type %s", typ)
			}
			checkFields(t, sh, "", msg.Event)
		})
	}
}

func checkFields(t *testing.T, sh herald.Shape, prefix string, m map[string]any) {
	t.Helper()
	for k, v := range m {
		path := prefix + k
		kind, ok := sh.Fields[path]
		if !ok {
			t.Errorf("%s: field %s (%v) is not in the shape", sh.Type, path, v)
			continue
		}
		if got := kindOf(v); kind != herald.KindAny && got != kind {
			t.Errorf("%s: field %s is %s in the recording, %s in the shape", sh.Type, path, got, kind)
		}
		if sub, ok := v.(map[string]any); ok && kind == herald.KindObject {
			checkFields(t, sh, path+".", sub)
		}
	}
}

func kindOf(v any) herald.Kind {
	switch v.(type) {
	case string:
		return herald.KindString
	case float64:
		return herald.KindNumber
	case bool:
		return herald.KindBool
	case map[string]any:
		return herald.KindObject
	case []any:
		return herald.KindArray
	}
	return herald.KindAny
}
