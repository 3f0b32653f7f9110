// Package browsertest starts Debian's headless Chromium for the tests that
// drive herald's pages (the overlay, the dashboard, a page on another site):
// one place for where Chromium is, what it is started with, how its profile
// is cleaned up, and what the page wrote to its console.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/internal/needs"
)

// Path is Debian's Chromium (apt-get install chromium), which .ci/run
// installs.
const Path = "/usr/bin/chromium"

// Need skips t when Chromium is missing, except under CI, where the
// browser tests must run: there a missing Chromium fails t.
func Need(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(Path); err != nil {
		needs.Missing(t, Path, "apt-get install -y chromium")
	}
}

// Start calls Need, starts a fresh headless Chromium with its own profile
// and returns its context (ended after timeout, or when t ends) and a
// function returning what the pages wrote to the console. extra adds
// flags, such as host-resolver-rules.
//
// The flags keep Chromium off the network (this machine has none) and
// quiet: no background networking, no component updates, no sync.
func Start(t *testing.T, timeout time.Duration, extra ...chromedp.ExecAllocatorOption) (context.Context, func() string) {
	t.Helper()
	Need(t)
	// Not t.TempDir: Chromium's helper processes may still write to the
	// profile for a moment after the browser is gone, which fails
	// TempDir's cleanup; remove it with retries instead.
	profile, err := os.MkdirTemp("", "herald-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(profile),
	}, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		for range 40 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	var mu sync.Mutex
	var console strings.Builder
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			fmt.Fprintf(&console, "%s:", ev.Type)
			for _, a := range ev.Args {
				fmt.Fprintf(&console, " %s", a.Value)
			}
			console.WriteString("\n")
		case *runtime.EventExceptionThrown:
			fmt.Fprintf(&console, "exception: %s\n", ev.ExceptionDetails.Error())
		}
	})
	return ctx, func() string {
		mu.Lock()
		defer mu.Unlock()
		return console.String()
	}
}
