package yamlpos

import (
	"errors"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestSyntaxErrorIn(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{name: "misindented key points at itself, not the list",
			src:  "version: 1\nrules:\n  - name: a\n    when: x\n   emit: B\n",
			want: "f.yaml:5: did not find expected '-' indicator"},
		{name: "scanner error keeps its line",
			src:  "a: 1\nb:\n\t- c\n",
			want: "f.yaml:3: found character that cannot start any token"},
		{name: "mapping value on its line",
			src:  "a: 1\nb: c: d\n",
			want: "f.yaml:2: mapping values are not allowed in this context"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n yaml.Node
			err := yaml.Unmarshal([]byte(tc.src), &n)
			if err == nil {
				t.Fatal("source parsed")
			}
			got := SyntaxErrorIn("f.yaml", []byte(tc.src), err)
			if got.Error() != tc.want {
				t.Errorf("SyntaxErrorIn = %q, want %q", got, tc.want)
			}
			if !errors.Is(got, err) {
				t.Error("SyntaxErrorIn does not wrap the yaml error")
			}
		})
	}
}
