package eventsub

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald/ingress/twitch/auth"
)

// healthy statuses are kept by Sync; any other (verification failed,
// notification failures exceeded, revoked…) is deleted and re-created.
var healthy = map[string]bool{"enabled": true, "webhook_callback_verification_pending": true}

// SyncReport says what Sync did.
type SyncReport struct {
	Kept, Created, Deleted []string
	// Failed maps a type to why it could not be created.
	Failed map[string]error
}

// Sync makes Twitch's webhook subscriptions for callback match want:
// healthy matching ones stay, missing ones are created, and ones herald
// no longer declares or that failed are deleted. Subscriptions for other
// callbacks are left alone.
func Sync(ctx context.Context, h *Helix, want []Request, callback string, secret auth.Secret) (SyncReport, error) {
	rep := SyncReport{Failed: map[string]error{}}
	have, err := h.List(ctx)
	if err != nil {
		return rep, err
	}
	kept := make([]bool, len(want))
	for _, s := range have {
		if s.Transport.Method != "webhook" || s.Transport.Callback != callback {
			continue
		}
		i := match(want, s)
		if i >= 0 && !kept[i] && healthy[s.Status] {
			kept[i] = true
			rep.Kept = append(rep.Kept, s.Type)
			continue
		}
		if err := h.Delete(ctx, s.ID); err != nil {
			return rep, fmt.Errorf("deleting %s subscription %s (%s): %w", s.Type, s.ID, s.Status, err)
		}
		rep.Deleted = append(rep.Deleted, s.Type+" ("+s.Status+")")
	}
	for i, r := range want {
		if kept[i] {
			continue
		}
		if _, err := h.Create(ctx, r, Transport{Method: "webhook", Callback: callback, Secret: secret}); err != nil && !Conflict(err) {
			if ctx.Err() != nil {
				return rep, err
			}
			rep.Failed[r.Type] = err
			continue
		}
		rep.Created = append(rep.Created, r.Type)
	}
	return rep, nil
}

// match finds the wanted request s fulfils: same type, version and
// condition.
func match(want []Request, s Subscription) int {
	for i, r := range want {
		if r.Type != s.Type || r.Version != s.Version || len(r.Condition) != len(s.Condition) {
			continue
		}
		same := true
		for k, v := range r.Condition {
			if fmt.Sprint(s.Condition[k]) != v {
				same = false
				break
			}
		}
		if same {
			return i
		}
	}
	return -1
}
