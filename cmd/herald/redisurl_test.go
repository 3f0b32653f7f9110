package main

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// TestRedisClientTimeouts: herald bounds the Redis client's timeouts
// (redisTimeout) unless the URL sets them, on every topology: with
// go-redis's own defaults and retries, an alert waited about 45 s for its
// answer while the network to Redis dropped packets.
func TestRedisClientTimeouts(t *testing.T) {
	tests := []struct {
		url               string
		dial, read, write time.Duration
	}{
		{"redis://127.0.0.1:6379/0", redisTimeout, redisTimeout, redisTimeout},
		{"redis://127.0.0.1:6379/0?read_timeout=5s&dial_timeout=1s", time.Second, 5 * time.Second, redisTimeout},
		{"redis://127.0.0.1:6379?addr=127.0.0.1:6380", redisTimeout, redisTimeout, redisTimeout},
		{"redis://127.0.0.1:6379?cluster=true&write_timeout=4s", redisTimeout, redisTimeout, 4 * time.Second},
		{"redis://127.0.0.1:26379/0?master_name=m", redisTimeout, redisTimeout, redisTimeout},
	}
	for _, tc := range tests {
		c, err := newRedisClient(tc.url)
		if err != nil {
			t.Fatalf("newRedisClient(%s): %v", tc.url, err)
		}
		var dial, read, write time.Duration
		switch c := c.(type) {
		case *goredis.Client:
			o := c.Options()
			dial, read, write = o.DialTimeout, o.ReadTimeout, o.WriteTimeout
		case *goredis.ClusterClient:
			o := c.Options()
			dial, read, write = o.DialTimeout, o.ReadTimeout, o.WriteTimeout
		default:
			t.Fatalf("newRedisClient(%s) = %T", tc.url, c)
		}
		_ = c.Close()
		if dial != tc.dial || read != tc.read || write != tc.write {
			t.Errorf("%s: timeouts dial %v read %v write %v, want %v %v %v", tc.url, dial, read, write, tc.dial, tc.read, tc.write)
		}
	}
}
