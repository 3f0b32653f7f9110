package ingress_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/ingress"
)

func TestExamples(t *testing.T) {
	shapes := []herald.Shape{{Type: "a"}, {Type: "b"}, {Type: "c"}}
	fsys := fstest.MapFS{
		"testdata/x/want.json": {Data: []byte(`{"status":200,"events":[{"type":"a","data":{"n":1}},{"type":"b","data":{"s":"x"}}]}`)},
		"samples/c.json":       {Data: []byte(`{"ok":true}`)},
	}
	got, err := ingress.Examples(shapes, fsys, "testdata/*/want.json", "samples/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Example["n"] != 1.0 || got[1].Example["s"] != "x" || got[2].Example["ok"] != true {
		t.Errorf("examples = %v, %v, %v", got[0].Example, got[1].Example, got[2].Example)
	}
	if shapes[0].Example != nil {
		t.Error("Examples changed the shapes it was given")
	}
	for name, tc := range map[string]struct {
		files fstest.MapFS
		want  string
	}{
		"twice": {fstest.MapFS{"testdata/x/want.json": fsys["testdata/x/want.json"], "samples/a.json": {Data: []byte(`{}`)}},
			"a second example of a"},
		"no shape": {fstest.MapFS{"testdata/x/want.json": fsys["testdata/x/want.json"], "samples/d.json": {Data: []byte(`{}`)}},
			"examples of types no shape declares: d"},
		"no data": {fstest.MapFS{"testdata/x/want.json": {Data: []byte(`{"events":[{"type":"a"}]}`)}, "samples/c.json": {Data: []byte(`{}`)}},
			"the a event has no data object"},
		"nothing matches": {fstest.MapFS{"testdata/x/want.json": fsys["testdata/x/want.json"]}, "no example files match samples/*.json"},
	} {
		if _, err := ingress.Examples(shapes, tc.files, "testdata/*/want.json", "samples/*.json"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

func TestCheckData(t *testing.T) {
	sh := herald.Shape{Type: "t", Fields: map[string]herald.Kind{
		"name": herald.KindString, "n": herald.KindNumber, "maybe": herald.KindAny,
		"reward": herald.KindObject, "reward.title": herald.KindString, "opaque": herald.KindObject,
		"choices": herald.KindAny, "choices.0.votes": herald.KindNumber,
	}}
	good := map[string]any{"name": "ann", "n": 5.0, "maybe": nil, "reward": map[string]any{"title": "hydrate"},
		"opaque": map[string]any{"anything": 1.0}, "choices": []any{map[string]any{"votes": 3.0}}}
	if err := ingress.CheckData(sh, good); err != nil {
		t.Errorf("CheckData(good) = %v", err)
	}
	bad := map[string]any{"name": nil, "n": "5", "extra": 1.0, "reward": map[string]any{"title": "x", "cost": 5.0},
		"choices": []any{map[string]any{"votes": "3"}, "x"}}
	err := ingress.CheckData(sh, bad)
	for _, want := range []string{"t: field name is null, the shape says string", "t: field n is string, the shape says number",
		"t: field extra is not in the shape", "t: field reward.cost is not in the shape",
		"t: field choices.0.votes is string, the shape says number", "t: an item of choices is string, the shape lists its fields"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckData(bad) = %v, want it to say %q", err, want)
		}
	}
	open := herald.Shape{Type: "", Fields: map[string]herald.Kind{"code": herald.KindString}, Rest: herald.KindString}
	if err := ingress.CheckData(open, map[string]any{"code": "c", "user": "ann"}); err != nil {
		t.Errorf("CheckData(open shape) = %v", err)
	}
	if err := ingress.CheckData(open, map[string]any{"user": 5.0}); err == nil {
		t.Error("CheckData(open shape, number) passed; Rest says string")
	}
}
