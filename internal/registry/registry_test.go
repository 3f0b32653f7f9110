package registry

import (
	"slices"
	"testing"
)

func TestRegistry(t *testing.T) {
	r := New[int]("ingress")
	r.Register("twitch", 1)
	r.Register("kofi", 2)
	if got, err := r.Lookup("kofi"); err != nil || got != 2 {
		t.Errorf("Lookup(kofi) = %d, %v", got, err)
	}
	_, err := r.Lookup("twich")
	if want := `unknown ingress type "twich" (known: kofi, twitch)`; err == nil || err.Error() != want {
		t.Errorf("Lookup(twich) error = %v, want %q", err, want)
	}
	if got := r.Types(); !slices.Equal(got, []string{"kofi", "twitch"}) {
		t.Errorf("Types() = %v", got)
	}
	for _, name := range []string{"", "kofi"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", name)
				}
			}()
			r.Register(name, 3)
		}()
	}
}
