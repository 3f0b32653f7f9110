package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/journal/recovery"
	rj "github.com/heraldhq/herald/journal/redis"
)

// TestClaimAnsweredAfterItsCallerGaveUp: Redis stalls while a page claims
// its room's pending alert, past the caller's deadline; the claim runs
// once Redis resumes, but its caller saw an error, and the page was left
// owed. Claimed again with the same token (Keeper.Owed, as the page
// model's retry does), the alert reaches the page; a page claiming with
// another token does not get it too. (The alert was marked reached and
// no page ever got it.)
func TestClaimAnsweredAfterItsCallerGaveUp(t *testing.T) {
	srv := redistest.Start(t)
	s, _ := stallNode(t, srv, rj.Options{})
	e := mustAppend(t, s, delivery("room", 1))
	k := recovery.New(s, recovery.Options{})
	// Redis knows the script from an earlier claim, as it does under
	// traffic: what the frozen server holds is the script's run itself.
	if _, err := s.Claim(t.Context(), "elsewhere", "page-0", []uint64{1}); err != nil {
		t.Fatal(err)
	}

	srv.Pause()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	won, err := s.Claim(ctx, "room", "page-1", []uint64{e.Offset})
	cancel()
	srv.Resume()
	if err == nil {
		t.Fatalf("Claim while Redis was frozen = %v, nil; want the caller's deadline", won)
	}
	// The claim has run by the time Redis answers the next command.
	if pending, err := s.Pending(t.Context(), "room", time.Time{}); err != nil || len(pending) != 0 {
		t.Fatalf("Pending after the late claim = %d entries, %v; want it claimed", len(pending), err)
	}
	if res, err := k.Register(t.Context(), "room"); err != nil || len(res.Missed) != 0 {
		t.Errorf("another page's Register got %d alerts, %v; want none (the first page's claim holds them)", len(res.Missed), err)
	}
	res, err := k.Owed(t.Context(), "room", recovery.Request{ClaimToken: "page-1"})
	if err != nil || len(res.Missed) != 1 || res.Missed[0].Offset != e.Offset {
		t.Errorf("Owed with the claim's token = %d alerts, %v; want the alert its lost answer held", len(res.Missed), err)
	}
}
