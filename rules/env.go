package rules

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/internal/yamlpos"
)

// expand replaces ${VAR} and ${VAR:-default} in s; $${ stands for a
// literal ${. An unset variable without a default is an error, so a
// missing secret stops the load instead of becoming an empty string. When
// s is a secret, the error says where to set the variable rather than
// suggest a default: a token written into the file is no secret.
func expand(s string, getenv func(string) (string, bool), secret bool) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' { // $${ is an escaped ${
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ (write $${ for a literal ${)")
		}
		ref := s[i+2 : i+end]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validVarName(name) {
			return "", fmt.Errorf("bad variable name %q in ${%s}", name, ref)
		}
		v, ok := getenv(name)
		switch {
		case ok && (v != "" || !hasDef):
			b.WriteString(v)
		case hasDef: // like the shell, :- also covers set-but-empty
			b.WriteString(def)
		case secret:
			return "", fmt.Errorf("environment variable %s is not set: set %s in herald's environment (e.g. `%s=… herald`, or the service's Environment=)", name, name, name)
		default:
			return "", fmt.Errorf("environment variable %s is not set and has no default (write ${%s:-default})", name, name)
		}
		s = s[i+end+1:]
	}
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// secretWords are the words of an ingress option that holds a secret
// (verification_token, secret, client_secret, access_token, token, key,
// api_key, password).
var secretWords = []string{"token", "secret", "key", "apikey", "password", "passphrase"}

// secretOption reports whether an ingress option named key holds a secret.
func secretOption(key string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(key), func(r rune) bool { return r == '_' || r == '-' }) {
		if slices.Contains(secretWords, w) {
			return true
		}
	}
	return false
}

// expandTree expands every string scalar under n in place, once per node
// (aliases share nodes), and returns the nodes whose text changed: their
// values no longer line up with the file, so expression errors in them
// point at the scalar's start.
func expandTree(file string, n *yaml.Node, getenv func(string) (string, bool), errs *yamlpos.List) map[*yaml.Node]bool {
	changed := map[*yaml.Node]bool{}
	seen := map[*yaml.Node]bool{}
	// where is a node's place: whether it is the file's top mapping, is
	// inside the ingress section, and the key it is the value of.
	type where struct {
		top, ingress bool
		key          string
	}
	var walk func(n *yaml.Node, isKey bool, at where)
	walk = func(n *yaml.Node, isKey bool, at where) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, false, where{top: true})
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, false, where{ingress: at.ingress, key: at.key})
			}
		case yaml.MappingNode:
			for i, c := range n.Content {
				if i%2 == 0 {
					walk(c, true, where{ingress: at.ingress})
					continue
				}
				key := n.Content[i-1].Value
				walk(c, false, where{ingress: at.ingress || at.top && key == "ingress", key: key})
			}
		case yaml.AliasNode:
			walk(n.Alias, isKey, at)
		case yaml.ScalarNode:
			if isKey || !strings.Contains(n.Value, "$") {
				return
			}
			tag := n.ShortTag()
			if tag != "!!str" && tag != exprTag {
				return
			}
			v, err := expand(n.Value, getenv, at.ingress && secretOption(at.key))
			if err != nil {
				errs.Add(yamlpos.At(file, n), "%v", err)
				return
			}
			if v == n.Value {
				return
			}
			changed[n] = true
			n.Value = v
			if n.Style == 0 && n.Tag == "!!str" {
				n.Tag = "" // let ${PORT:-8080} resolve to an int again
			}
		}
	}
	walk(n, false, where{})
	return changed
}
