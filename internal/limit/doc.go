// Package limit holds the small, dependency-free limiters herald puts in
// front of everything an unauthenticated client can reach: token buckets
// per client address (requests, handshakes, trigger misses), counters of
// open connections per address and in total, and a log handler that
// lets only so many lines per message through per interval.
//
// Every limiter is bounded in memory whatever the clients do: keyed
// tables forget idle keys and never grow past a fixed size. A limiter
// whose rate or size is zero is off and always allows.
//
// Clients are keyed by address (see Key): the remote IP, and for IPv6 its
// /64, since one host commonly holds a whole /64. Forwarded-for headers
// are not read here: a forged one would let anyone pick their own key.
// Behind proxies the operator names, package clientaddr has already put
// the client's address in the request.
package limit
