package clientaddr

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestClient(t *testing.T) {
	proxies := "127.0.0.1, 10.0.0.0/8, ::1"
	tests := []struct {
		name    string
		trusted string
		remote  string
		xff     []string
		want    string
	}{
		{"no proxies trusted: the header is ignored", "", "203.0.113.7:4000", []string{"1.2.3.4"}, "203.0.113.7"},
		{"an untrusted peer's header is ignored", proxies, "203.0.113.7:4000", []string{"1.2.3.4"}, "203.0.113.7"},
		{"a trusted proxy without the header is the client", proxies, "127.0.0.1:4000", nil, "127.0.0.1"},
		{"one proxy", proxies, "127.0.0.1:4000", []string{"198.51.100.2"}, "198.51.100.2"},
		{"a forged entry left of the real one is ignored", proxies, "127.0.0.1:4000", []string{"1.2.3.4, 198.51.100.2"}, "198.51.100.2"},
		{"two trusted proxies", proxies, "127.0.0.1:4000", []string{"198.51.100.2, 10.1.2.3"}, "198.51.100.2"},
		{"the header repeated", proxies, "127.0.0.1:4000", []string{"1.2.3.4", "198.51.100.2, 10.1.2.3"}, "198.51.100.2"},
		{"every entry trusted: the left-most", proxies, "127.0.0.1:4000", []string{"10.0.0.9, 10.1.2.3"}, "10.0.0.9"},
		{"garbage stops the walk at the nearest trusted hop", proxies, "127.0.0.1:4000", []string{"198.51.100.2, bogus, 10.1.2.3"}, "10.1.2.3"},
		{"garbage written next to the proxy", proxies, "127.0.0.1:4000", []string{"bogus"}, "127.0.0.1"},
		{"an entry with a port", proxies, "127.0.0.1:4000", []string{"198.51.100.2:5555"}, "198.51.100.2"},
		{"IPv6 peer and entry", proxies, "[::1]:4000", []string{"2001:db8::1"}, "2001:db8::1"},
		{"IPv6 entry with brackets and port", proxies, "[::1]:4000", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"IPv4-mapped peer", proxies, "[::ffff:127.0.0.1]:4000", []string{"198.51.100.2"}, "198.51.100.2"},
		{"empty entries are garbage", proxies, "127.0.0.1:4000", []string{" , "}, "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trusted, err := Parse(tt.trusted)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := trusted.Client(r); got != tt.want {
				t.Errorf("Client = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, good := range []string{"", "127.0.0.1", "10.0.0.0/8,::1", " 192.168.1.0/24 , fd00::/8 ", "10.1.2.3/8"} {
		if _, err := Parse(good); err != nil {
			t.Errorf("Parse(%q): %v", good, err)
		}
	}
	for _, bad := range []string{"localhost", "10.0.0.0/33", "1.2.3", "127.0.0.1,nginx"} {
		_, err := Parse(bad)
		if err == nil || !strings.Contains(err.Error(), "trusted proxy") {
			t.Errorf("Parse(%q) = %v, want an error naming the entry", bad, err)
		}
	}
	tr, _ := Parse("10.1.2.3/8, 127.0.0.1")
	if got := tr.String(); got != "10.0.0.0/8,127.0.0.1/32" {
		t.Errorf("String = %q", got)
	}
}

func TestMiddleware(t *testing.T) {
	trusted, _ := Parse("127.0.0.1")
	var seen string
	h := trusted.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr }))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:4000"
	r.Header.Set("X-Forwarded-For", "2001:db8::1")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if seen != "[2001:db8::1]:0" {
		t.Errorf("handler saw RemoteAddr %q", seen)
	}
	if r.RemoteAddr != "127.0.0.1:4000" {
		t.Errorf("the caller's request was changed: %q", r.RemoteAddr)
	}
	r.Header.Del("X-Forwarded-For")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if seen != "127.0.0.1:4000" {
		t.Errorf("without the header the handler saw %q", seen)
	}
}

// FuzzClient: whatever a client puts in the header, the answer is the
// peer or an IP address that appeared in it, and never panics.
func FuzzClient(f *testing.F) {
	f.Add("1.2.3.4, 10.0.0.1", "127.0.0.1:1")
	f.Add("[::1]:80,bogus", "[::1]:2")
	f.Add("", "not an address")
	trusted, _ := Parse("127.0.0.0/8, 10.0.0.0/8, ::1")
	f.Fuzz(func(t *testing.T, xff, remote string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		got := trusted.Client(r)
		if got == hostOf(remote) {
			return
		}
		for _, e := range strings.Split(xff, ",") {
			if ip, err := netip.ParseAddr(hostOf(strings.TrimSpace(e))); err == nil && ip.Unmap().String() == got {
				return
			}
		}
		t.Fatalf("Client = %q from remote %q, header %q: neither the peer nor an entry", got, remote, xff)
	})
}

func FuzzParse(f *testing.F) {
	f.Add("127.0.0.1, 10.0.0.0/8")
	f.Add("::1/129")
	f.Fuzz(func(t *testing.T, s string) {
		tr, err := Parse(s)
		if err != nil {
			return
		}
		if again, err := Parse(tr.String()); err != nil || again.String() != tr.String() {
			t.Fatalf("Parse(%q).String() = %q does not parse back: %v", s, tr.String(), err)
		}
	})
}
