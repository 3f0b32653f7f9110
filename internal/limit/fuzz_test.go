package limit

import (
	"net"
	"net/netip"
	"testing"
)

// FuzzAddrKey: any remote address yields a key; an IPv6 address's key is
// a /64 that contains it, so one host cannot pick a fresh key per request.
func FuzzAddrKey(f *testing.F) {
	for _, s := range []string{"127.0.0.1:1", "[2001:db8::1]:80", "[::ffff:1.2.3.4]:5", "x", "", "[fe80::1%eth0]:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		key := AddrKey(addr)
		host := addr
		if h, _, err := net.SplitHostPort(addr); err == nil {
			host = h
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || ip.Unmap().Is4() || ip.IsLoopback() {
			return
		}
		p, err := netip.ParsePrefix(key)
		if err != nil || p.Bits() != 64 || !p.Contains(ip.WithZone("")) {
			t.Fatalf("AddrKey(%q) = %q, want the /64 holding %v", addr, key, ip)
		}
	})
}

// FuzzBucketsBurst: whatever the rate, a bucket
// never admits more than Burst requests at one instant.
func FuzzBucketsBurst(f *testing.F) {
	f.Add(1.0, 5, 10)
	f.Add(0.5, 1, 3)
	f.Fuzz(func(t *testing.T, perSecond float64, burst, requests int) {
		if burst > 1000 || requests > 2000 || requests < 0 {
			return
		}
		c := &clock{}
		b := NewBuckets(Rate{PerSecond: perSecond, Burst: burst}, c.now)
		admitted := 0
		for range requests {
			if ok, retry := b.Allow("k"); ok {
				admitted++
			} else if retry < 1e9 {
				t.Fatalf("refused with Retry-After %v < 1s", retry)
			}
		}
		if !(Rate{PerSecond: perSecond, Burst: burst}).Off() && admitted > burst {
			t.Fatalf("rate %v/%d admitted %d at one instant", perSecond, burst, admitted)
		}
	})
}
