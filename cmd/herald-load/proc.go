package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// readRSS returns VmRSS of pid in KB from /proc/PID/status (Linux; an
// error elsewhere).
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("rss: %w", err)
	}
	return parseRSS(b)
}

func parseRSS(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("rss: odd VmRSS line %q", line)
		}
		return strconv.ParseInt(string(f[0]), 10, 64)
	}
	return 0, fmt.Errorf("rss: no VmRSS line")
}

// clockTick is USER_HZ, 100 on every Linux the tool targets; the standard
// library has no sysconf.
const clockTick = 100

// readCPU returns utime+stime of pid from /proc/PID/stat.
func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu: %w", err)
	}
	return parseStatCPU(b)
}

func parseStatCPU(stat []byte) (time.Duration, error) {
	// comm (field 2) may hold spaces and parens: split after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("cpu: odd stat line")
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 13 { // f[0] is field 3 (state); utime, stime are fields 14, 15
		return 0, fmt.Errorf("cpu: short stat line")
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTick, nil
}

// loadAvg returns the 1, 5 and 15 minute load averages, so a report shows
// whether something else was competing for the CPU.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := bytes.Fields(b)
	if len(f) < 3 {
		return ""
	}
	return string(bytes.Join(f[:3], []byte(" ")))
}
