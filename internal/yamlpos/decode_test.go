package yamlpos

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestDecodeStrict(t *testing.T) {
	type opts struct {
		Secret string         `yaml:"secret"`
		Window int            `yaml:"window"`
		Data   map[string]any `yaml:"data"`
	}
	tests := []struct {
		name    string
		src     string
		wantErr string
	}{
		{name: "ok", src: "x:\n  secret: s\n  window: 3\n"},
		{name: "unknown key at its position", src: "x:\n  secret: s\n  windw: 3\n",
			wantErr: `rules.yaml:3:3: unknown key "windw" (known: data, secret, window)`},
		{name: "wrong type at its line", src: "x:\n  secret: s\n  window: soon\n",
			wantErr: "rules.yaml:3: cannot unmarshal !!str `soon` into int"},
		{name: "not a mapping", src: "x: [1]\n", wantErr: `rules.yaml:1:4: expected a mapping, got a list`},
		{name: "duplicate key at its column", src: "x:\n  data: {x: 1, x: 2}\n",
			wantErr: `rules.yaml:2:16: duplicate key "x" (first at rules.yaml:2:10)`},
		{name: "duplicate key nested in a list", src: "x:\n  data:\n    l:\n      - {a: 1}\n      - {a: 1, a: 2}\n",
			wantErr: `rules.yaml:5:16: duplicate key "a" (first at rules.yaml:5:10)`},
		{name: "the same key in two mappings is fine", src: "x:\n  data: {a: {x: 1}, b: {x: 2}}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tc.src), &doc); err != nil {
				t.Fatal(err)
			}
			var o opts
			err := DecodeStrict("rules.yaml", doc.Content[0].Content[1], &o)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("DecodeStrict(%q) = %q, want %q", tc.src, got, tc.wantErr)
			}
		})
	}
}

func TestValueAt(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("x:\n  secret: s3cret\n  window: 3\n"), &doc); err != nil {
		t.Fatal(err)
	}
	block := doc.Content[0].Content[1]
	tests := []struct {
		name string
		n    *yaml.Node
		key  string
		want string
	}{
		{name: "the value", n: block, key: "secret", want: "f:2:11"},
		{name: "missing key points at the block", n: block, key: "other", want: "f:2:3"},
		{name: "nil block", n: nil, key: "secret", want: "f"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValueAt("f", tc.n, tc.key).String(); got != tc.want {
				t.Errorf("ValueAt(%q) = %s, want %s", tc.key, got, tc.want)
			}
		})
	}
}
