package limit

import (
	"bytes"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestBucketsAllowRefillAndRetryAfter(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	b := NewBuckets(Rate{PerSecond: 2, Burst: 3}, c.now)
	for i := range 3 {
		if ok, _ := b.Allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, retry := b.Allow("a")
	if ok || retry != time.Second {
		t.Fatalf("Allow past the burst = %v, %v; want false, 1s", ok, retry)
	}
	if ok, _ := b.Allow("b"); !ok {
		t.Fatal("another key shares the first key's bucket")
	}
	c.advance(500 * time.Millisecond)
	if ok, _ := b.Allow("a"); !ok {
		t.Fatal("a token refilled after 1/rate was refused")
	}
	if ok, _ := b.Peek("a"); ok {
		t.Fatal("Peek sees a token that was just taken")
	}
	b.Spend("a")
	if ok, _ := b.Peek("a"); ok {
		t.Fatal("Spend on an empty bucket refilled it")
	}
}

func TestBucketsOffAllowsEverything(t *testing.T) {
	for _, rate := range []Rate{{}, {PerSecond: 1}, {Burst: 1}} {
		b := NewBuckets(rate, nil)
		for range 1000 {
			if ok, _ := b.Allow("k"); !ok {
				t.Fatalf("rate %+v refused a request", rate)
			}
		}
	}
	var nilBuckets *Buckets
	if ok, _ := nilBuckets.Allow("k"); !ok {
		t.Fatal("a nil table refused")
	}
}

func TestBucketsTableStaysBounded(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	b := NewBuckets(Rate{PerSecond: 1, Burst: 1}, c.now)
	for i := range maxKeys * 3 {
		b.Allow(strconv.Itoa(i)) // every key empties its bucket
	}
	if n := b.Len(); n > maxKeys {
		t.Fatalf("table holds %d keys, bound %d", n, maxKeys)
	}
}

func TestConnsBounds(t *testing.T) {
	tests := []struct {
		name          string
		perKey, total int
		keys          []string
		wantOK        []bool
	}{
		{name: "per key", perKey: 2, total: 10, keys: []string{"a", "a", "a", "b"}, wantOK: []bool{true, true, false, true}},
		{name: "total", perKey: 5, total: 2, keys: []string{"a", "b", "c"}, wantOK: []bool{true, true, false}},
		{name: "unbounded", keys: []string{"a", "a", "a"}, wantOK: []bool{true, true, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewConns(tc.perKey, tc.total)
			var rel []func()
			for i, k := range tc.keys {
				r, ok := c.Acquire(k)
				if ok != tc.wantOK[i] {
					t.Fatalf("Acquire(%q) #%d = %v, want %v", k, i, ok, tc.wantOK[i])
				}
				if ok {
					rel = append(rel, r)
				}
			}
			for _, r := range rel {
				r()
				r() // a second release is a no-op
			}
			if k, total := c.Open("a"); k != 0 || total != 0 {
				t.Fatalf("after releasing all: open %d for a, %d total", k, total)
			}
		})
	}
}

func TestListenerClaimReleasedOnClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Listener{ln}
	defer l.Close()
	go func() {
		for range 2 {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err == nil {
				defer c.Close()
			}
		}
	}()
	counts := NewConns(1, 0)
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	ca, cb := ConnOf(WithConn(t.Context(), a)), ConnOf(WithConn(t.Context(), b))
	if ca == nil || cb == nil {
		t.Fatal("ConnOf lost the accepted connection")
	}
	if !ca.Claim(counts, "k") || !ca.Claim(counts, "k") {
		t.Fatal("first claim (and its repeat) refused")
	}
	if cb.Claim(counts, "k") {
		t.Fatal("second connection for the same key admitted past perKey=1")
	}
	a.Close()
	if !cb.Claim(counts, "k") {
		t.Fatal("closing the first connection did not release its claim")
	}
	b.Close()
}

func TestAddrKey(t *testing.T) {
	tests := []struct{ addr, want string }{
		{addr: "127.0.0.1:5000", want: "127.0.0.1"},
		{addr: "[::1]:80", want: "::1"},
		{addr: "[2001:db8:1:2:3:4:5:6]:80", want: "2001:db8:1:2::/64"},
		{addr: "[2001:db8:1:2:ffff::1]:80", want: "2001:db8:1:2::/64"},
		{addr: "[::ffff:10.0.0.1]:1", want: "10.0.0.1"},
		{addr: "pipe", want: "pipe"},
	}
	for _, tc := range tests {
		if got := AddrKey(tc.addr); got != tc.want {
			t.Errorf("AddrKey(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestLogHandlerPerMessageBudget(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(slog.NewTextHandler(&buf, nil), slog.LevelWarn, 2, time.Minute, c.now))
	for range 10 {
		log.Warn("webhook refused")
	}
	log.Warn("admin request refused") // another message has its own budget
	log.Info("herald listening")      // below the level: never limited
	c.advance(time.Minute)
	log.Warn("webhook refused")
	out := buf.String()
	if n := strings.Count(out, "webhook refused"); n != 3 {
		t.Fatalf("webhook refused logged %d times, want 2 + 1 after the interval:\n%s", n, out)
	}
	if !strings.Contains(out, "suppressed=8") {
		t.Fatalf("the first line after the interval does not count the 8 suppressed:\n%s", out)
	}
	if !strings.Contains(out, "admin request refused") || !strings.Contains(out, "herald listening") {
		t.Fatalf("other messages were suppressed:\n%s", out)
	}
}
