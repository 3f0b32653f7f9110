package main

import (
	"os"
	"testing"
	"time"
)

func TestParseRSS(t *testing.T) {
	status := "Name:\therald\nVmPeak:\t  900000 kB\nVmRSS:\t   84028 kB\nRssAnon:\t   70000 kB\n"
	got, err := parseRSS([]byte(status))
	if err != nil || got != 84028 {
		t.Errorf("parseRSS = %d, %v; want 84028, nil", got, err)
	}
	if _, err := parseRSS([]byte("Name:\tkthreadd\n")); err == nil {
		t.Error("parseRSS without VmRSS: want an error (kernel threads have none)")
	}
}

func TestParseStatCPU(t *testing.T) {
	// comm with a space and a paren, utime 150 ticks, stime 50 ticks.
	stat := "4242 (my (odd) srv) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 3 0 1000 0 0\n"
	got, err := parseStatCPU([]byte(stat))
	if err != nil || got != 2*time.Second {
		t.Errorf("parseStatCPU = %v, %v; want 2s, nil", got, err)
	}
	if _, err := parseStatCPU([]byte("4242 (x) S 1 2")); err == nil {
		t.Error("parseStatCPU of a short line: want an error")
	}
}

// The tool reads its target's /proc files; reading its own must work on
// the Linux machines it runs on.
func TestReadOwnProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	if kb, err := readRSS(os.Getpid()); err != nil || kb <= 0 {
		t.Errorf("readRSS(self) = %d, %v; want > 0", kb, err)
	}
	if _, err := readCPU(os.Getpid()); err != nil {
		t.Errorf("readCPU(self): %v", err)
	}
}
