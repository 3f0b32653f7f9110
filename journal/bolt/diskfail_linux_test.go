//go:build linux

package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/journal/bolt"
)

// diskFailEnv makes the re-executed test binary a process whose file size
// limit (RLIMIT_FSIZE) the journal runs into: every write past it fails
// with EFBIG, as a full or failing disk fails writes.
const diskFailEnv = "HERALD_JOURNAL_DISKFAIL_CHILD"

func init() {
	if dir := os.Getenv(diskFailEnv); dir != "" {
		os.Exit(appendOnFailingDisk(dir))
	}
}

func appendOnFailingDisk(dir string) int {
	// Go ignores SIGXFSZ, so a write past the limit returns EFBIG.
	lim := syscall.Rlimit{Cur: 512 << 10, Max: 512 << 10}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		fmt.Println("setrlimit:", err)
		return 2
	}
	s, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		fmt.Println("open:", err)
		return 2
	}
	big := strings.Repeat("a donor's long message ", 400) // ~9 KB
	ok, failed := 0, 0
	var first error
	for i := range 300 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := s.Append(ctx, delivery(fmt.Sprint("room-", i%3), fmt.Sprint("ev-", i), big))
		cancel()
		switch {
		case err == nil:
			ok++
		case errors.Is(err, context.DeadlineExceeded):
			fmt.Println("append hung until its deadline:", err)
			return 1
		default:
			failed++
			if first == nil {
				first = err
			}
		}
	}
	// Reads of what was committed keep working.
	es, rerr := s.Last(context.Background(), "room-0", 3)
	st := s.Stats()
	fmt.Printf("ok=%d failed=%d read=%d readErr=%v appendErrors=%d lastError=%q first=%v\n",
		ok, failed, len(es), rerr, st.AppendErrors, st.LastError, first)
	if err := s.Close(); err != nil {
		fmt.Println("close:", err)
	}
	return 0
}

// TestFailingDiskReturnsErrors runs the journal in a process whose writes
// start failing with EFBIG: appends return errors (no panic, no hang), the
// failures are counted, and what was committed can still be read.
func TestFailingDiskReturnsErrors(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), diskFailEnv+"="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the journal process on a failing disk died (%v):\n%s", err, out)
	}
	var ok, failed, read, appendErrors int
	var readErr string
	line := strings.TrimSpace(string(out))
	if _, err := fmt.Sscanf(line, "ok=%d failed=%d read=%d readErr=%s appendErrors=%d", &ok, &failed, &read, &readErr, &appendErrors); err != nil {
		t.Fatalf("child said %q: %v", line, err)
	}
	if ok == 0 || failed == 0 {
		t.Fatalf("appends: %d ok, %d failed; want some of each (the limit is 512 KiB)\n%s", ok, failed, line)
	}
	if appendErrors != failed {
		t.Errorf("Stats.AppendErrors = %d, want the %d failed appends", appendErrors, failed)
	}
	if read != 3 || readErr != "<nil>" {
		t.Errorf("reading committed entries on a failing disk: %d entries, err %s; want 3, nil", read, readErr)
	}
	if !strings.Contains(line, "file too large") && !strings.Contains(line, "full") {
		t.Errorf("the failure does not say what went wrong: %s", line)
	}
	t.Log(line)
}
