package bolt

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"
)

// headerOf returns the first two pages of a small bbolt file written by
// bbolt itself.
func headerOf(t testing.TB) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "h.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucket([]byte("b"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckExtent(t *testing.T) {
	whole := headerOf(t)
	ps := os.Getpagesize()
	tests := []struct {
		name        string
		file        []byte
		wantCorrupt bool
	}{
		{name: "whole file", file: whole},
		{name: "empty (bbolt starts it)", file: []byte{}},
		{name: "cut after the header pages", file: whole[:2*ps], wantCorrupt: true},
		{name: "cut inside the header pages", file: whole[:ps+100], wantCorrupt: true},
		{name: "a few bytes", file: whole[:100], wantCorrupt: true},
		{name: "no valid header, long enough (bbolt refuses it)", file: bytes.Repeat([]byte{7}, 3*ps)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.db")
			if err := os.WriteFile(path, tc.file, 0o600); err != nil {
				t.Fatal(err)
			}
			err := checkExtent(path)
			var corrupt *corruptError
			if got := errors.As(err, &corrupt); got != tc.wantCorrupt {
				t.Errorf("checkExtent = %v, want corrupt %v", err, tc.wantCorrupt)
			}
		})
	}
}

// FuzzCurrentMeta: the header of a damaged file is read without a panic,
// and a meta it accepts has a page size bbolt could have written.
func FuzzCurrentMeta(f *testing.F) {
	whole := headerOf(f)
	f.Add(whole[:2*os.Getpagesize()])
	f.Add(whole[:200])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, ok := currentMeta(bytes.NewReader(b))
		if ok && (m.pageSize < 1024 || m.pageSize&(m.pageSize-1) != 0) {
			t.Fatalf("accepted page size %d", m.pageSize)
		}
	})
}
