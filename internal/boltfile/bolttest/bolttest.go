// Package bolttest damages bbolt files the way disks and other programs
// do, and finds what a process still holds of a file, for the tests of the
// stores that keep bbolt files (journal/bolt, journal/spool).
package bolttest

import (
	"bytes"
	"encoding/binary"
	"os"
	"runtime"
	"testing"
)

// SpoilFreelistPages scribbles over the header of every freelist page in
// the bbolt file at path (bbolt keeps the current one and those of recent
// commits). bbolt panics on such a page while it opens the file.
func SpoilFreelistPages(t testing.TB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ps, spoiled := os.Getpagesize(), 0
	for n := 2; (n+1)*ps <= len(b); n++ {
		page := b[n*ps:]
		if binary.NativeEndian.Uint64(page) == uint64(n) && binary.NativeEndian.Uint16(page[8:]) == 0x10 {
			copy(page[8:16], bytes.Repeat([]byte{0xA5}, 8))
			spoiled++
		}
	}
	if spoiled == 0 {
		t.Fatal("no freelist page found to spoil")
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// HeldOpen lists this process's descriptors and mappings of path, where
// the system tells (Linux; elsewhere nil). A file held open cannot be
// moved aside on Windows.
func HeldOpen(t testing.TB, path string) []string {
	t.Helper()
	if runtime.GOOS != "linux" {
		return nil
	}
	var held []string
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		if target, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && target == path {
			held = append(held, "fd "+fd.Name())
		}
	}
	if maps, err := os.ReadFile("/proc/self/maps"); err == nil && bytes.Contains(maps, []byte(path)) {
		held = append(held, "mapped")
	}
	return held
}
