// Package redisvalues keeps the small values every node of a cluster
// shares (ingress.SharedStore) in the cluster's Redis: one hash per key,
// holding the value and its tag, so a write can be made conditional on
// the tag its writer last saw (Swap) in one atomic script.
package redisvalues

import (
	"context"
	"errors"

	goredis "github.com/redis/go-redis/v9"
)

// Store is ingress.SharedStore on a Redis client. Its zero value is not
// usable; set both fields.
type Store struct {
	Client goredis.UniversalClient
	// Prefix starts every key, e.g. "herald:shared:".
	Prefix string
}

// Get returns key's value and tag; nil and "" when it holds none.
func (s Store) Get(ctx context.Context, key string) ([]byte, string, error) {
	vs, err := s.Client.HMGet(ctx, s.Prefix+key, "tag", "value").Result()
	if err != nil {
		return nil, "", err
	}
	tag, _ := vs[0].(string)
	value, _ := vs[1].(string)
	if tag == "" {
		return nil, "", nil
	}
	return []byte(value), tag, nil
}

// Set writes value under tag, whatever key held.
func (s Store) Set(ctx context.Context, key, tag string, value []byte) error {
	if tag == "" {
		return errors.New("redisvalues: empty tag")
	}
	return s.Client.HSet(ctx, s.Prefix+key, "tag", tag, "value", value).Err()
}

// swap writes the value only while the stored tag is the one the writer
// last saw ("" for none).
var swap = goredis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'tag')
if (cur == false and ARGV[1] == '') or cur == ARGV[1] then
  redis.call('HSET', KEYS[1], 'tag', ARGV[2], 'value', ARGV[3])
  return 1
end
return 0`)

// Swap writes value under tag if key's tag is still oldTag ("": key holds
// nothing), and reports whether it did.
func (s Store) Swap(ctx context.Context, key, oldTag, tag string, value []byte) (bool, error) {
	if tag == "" {
		return false, errors.New("redisvalues: empty tag")
	}
	n, err := swap.Run(ctx, s.Client, []string{s.Prefix + key}, oldTag, tag, value).Int()
	return n == 1, err
}
