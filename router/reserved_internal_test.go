package router

import "testing"

// TestReservedComparesTheCleanedPath: rules refuses a path that is not
// clean, but the router must not depend on that to keep herald's own
// paths its own, since ServeMux answers /hooks/../admin/ as /admin/.
func TestReservedComparesTheCleanedPath(t *testing.T) {
	r := New(Options{Reserved: []string{"/notify", "/admin/"}})
	tests := []struct {
		path, want string
	}{
		{path: "/notify", want: "/notify"},
		{path: "/admin/x", want: "/admin/"},
		{path: "/admin", want: "/admin/"},
		{path: "/hooks/../admin/", want: "/admin/"},
		{path: "/hooks/../notify", want: "/notify"},
		{path: "/admin//x", want: "/admin/"},
		{path: "/./notify/", want: "/notify"},
		{path: "/hooks/gen", want: ""},
		{path: "", want: ""},
	}
	for _, tc := range tests {
		got, _ := r.reserved(tc.path)
		if got != tc.want {
			t.Errorf("reserved(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}
