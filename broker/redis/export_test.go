package redis

import "time"

// SetResyncPatience shortens how long b's re-sync retries a journal that
// does not answer, so a test sees it give up; call it before Start.
func SetResyncPatience(b *Broker, d time.Duration) { b.patience = d }
