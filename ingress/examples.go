package ingress

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
)

// Examples returns shapes with their Example read from the files of fsys
// that match patterns (path.Match syntax), so that an adapter's example
// events have one source: the recordings its tests already replay.
//
//   - A file named want.json is a test case's expectation in the format of
//     ingress/internal/adaptertest ({"events": [{"type": …, "data": …}]});
//     each event's data is the example of its type, so the example is what
//     the adapter was seen to publish.
//   - Any other TYPE.json holds the data of one event of TYPE, for a type
//     no test case records.
//
// A type given twice, or one no shape declares, is an error: which example
// `herald route --sample` prints must not depend on the order of files.
func Examples(shapes []herald.Shape, fsys fs.FS, patterns ...string) ([]herald.Shape, error) {
	found := map[string]map[string]any{}
	from := map[string]string{}
	add := func(typ, file string, data map[string]any) error {
		if data == nil {
			return fmt.Errorf("%s: the %s event has no data object", file, typ)
		}
		if prev, dup := from[typ]; dup {
			return fmt.Errorf("%s: a second example of %s (the first is in %s)", file, typ, prev)
		}
		found[typ], from[typ] = data, file
		return nil
	}
	for _, pattern := range patterns {
		files, err := fs.Glob(fsys, pattern)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("no example files match %s", pattern)
		}
		for _, file := range files {
			b, err := fs.ReadFile(fsys, file)
			if err != nil {
				return nil, err
			}
			if path.Base(file) == "want.json" {
				var want struct {
					Events []struct {
						Type string         `json:"type"`
						Data map[string]any `json:"data"`
					} `json:"events"`
				}
				if err := json.Unmarshal(b, &want); err != nil {
					return nil, fmt.Errorf("%s: %w", file, err)
				}
				for _, ev := range want.Events {
					if err := add(ev.Type, file, ev.Data); err != nil {
						return nil, err
					}
				}
				continue
			}
			var data map[string]any
			if err := json.Unmarshal(b, &data); err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			if err := add(strings.TrimSuffix(path.Base(file), ".json"), file, data); err != nil {
				return nil, err
			}
		}
	}
	out := slices.Clone(shapes)
	for i, sh := range out {
		if ex, ok := found[sh.Type]; ok {
			out[i].Example = ex
			delete(found, sh.Type)
		}
	}
	if len(found) > 0 {
		return nil, fmt.Errorf("examples of types no shape declares: %s", strings.Join(slices.Sorted(maps.Keys(found)), ", "))
	}
	return out, nil
}

// MustExamples is Examples for an adapter's package variables, whose files
// are embedded: an error panics, on the first test of the package.
func MustExamples(shapes []herald.Shape, fsys fs.FS, patterns ...string) []herald.Shape {
	out, err := Examples(shapes, fsys, patterns...)
	if err != nil {
		panic("ingress examples: " + err.Error())
	}
	return out
}

// CheckData reports each field of data that sh does not declare, or
// declares with another JSON kind: it holds an event (an example, a
// recording) to what `herald check` assumes about its type. The fields of
// an object are checked one by one when sh lists them ("reward.title"),
// and so are those of a list's items ("choices.0.title"); the inside of
// any other object or list is not.
func CheckData(sh herald.Shape, data map[string]any) error {
	var errs []error
	checkFields(sh, "", data, &errs)
	return errors.Join(errs...)
}

func checkFields(sh herald.Shape, prefix string, m map[string]any, errs *[]error) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v, field := m[k], prefix+k
		want, declared := sh.Fields[field]
		if !declared && prefix == "" {
			want = sh.Rest
		}
		if want == "" {
			*errs = append(*errs, fmt.Errorf("%s: field %s is not in the shape", sh.Type, field))
			continue
		}
		if got := kindOf(v); want != herald.KindAny && got != want {
			*errs = append(*errs, fmt.Errorf("%s: field %s is %s, the shape says %s", sh.Type, field, got, want))
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			if listsFields(sh, field+".") {
				checkFields(sh, field+".", v, errs)
			}
		case []any:
			if !listsFields(sh, field+".0.") {
				continue
			}
			for _, item := range v {
				obj, ok := item.(map[string]any)
				if !ok {
					*errs = append(*errs, fmt.Errorf("%s: an item of %s is %s, the shape lists its fields", sh.Type, field, kindOf(item)))
					continue
				}
				checkFields(sh, field+".0.", obj, errs)
			}
		}
	}
}

// listsFields reports whether sh declares a field under prefix.
func listsFields(sh herald.Shape, prefix string) bool {
	for f := range sh.Fields {
		if strings.HasPrefix(f, prefix) {
			return true
		}
	}
	return false
}

// kindOf is the JSON kind of a value decoded from JSON (or built like
// one); "null" for null, which only KindAny admits.
func kindOf(v any) herald.Kind {
	switch v.(type) {
	case string:
		return herald.KindString
	case float64, float32, int, int64, int32, uint, uint64, uint32, json.Number:
		return herald.KindNumber
	case bool:
		return herald.KindBool
	case map[string]any:
		return herald.KindObject
	case []any:
		return herald.KindArray
	case nil:
		return "null"
	}
	return herald.KindAny
}
