package boltfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// fileOf returns a small bbolt file written by bbolt itself, with a
// freelist (a bucket created and deleted frees its page), and the number
// of its current freelist page.
func fileOf(t testing.TB) (file []byte, freelist int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "h.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []func(*bbolt.Tx) error{
		func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err },
		func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("gone")); return err },
		func(tx *bbolt.Tx) error { return tx.DeleteBucket([]byte("gone")) },
	} {
		if err := db.Update(op); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := currentMeta(bytes.NewReader(b))
	if !ok || m.freelist == noFreelist {
		t.Fatalf("bbolt wrote no freelist: %+v", m)
	}
	return b, int(m.freelist)
}

// withPage returns a copy of file with the header of page n changed by f.
func withPage(file []byte, n int, f func(head []byte)) []byte {
	out := bytes.Clone(file)
	ps := os.Getpagesize()
	f(out[n*ps : n*ps+pageHeaderSize+8])
	return out
}

func TestCheck(t *testing.T) {
	whole, fl := fileOf(t)
	ps := os.Getpagesize()
	ne := binary.NativeEndian
	tests := []struct {
		name        string
		file        []byte
		wantDamaged bool
	}{
		{name: "whole file", file: whole},
		{name: "empty (bbolt starts it)", file: []byte{}},
		{name: "cut after the header pages", file: whole[:2*ps], wantDamaged: true},
		{name: "cut inside the header pages", file: whole[:ps+100], wantDamaged: true},
		{name: "a few bytes", file: whole[:100], wantDamaged: true},
		{name: "no valid header, long enough (bbolt refuses it)", file: bytes.Repeat([]byte{7}, 3*ps)},
		// bbolt panics on these while it opens the file.
		{name: "freelist page of another type", wantDamaged: true,
			file: withPage(whole, fl, func(h []byte) { ne.PutUint16(h[8:], 0x02) })},
		{name: "freelist page scribbled over", wantDamaged: true,
			file: withPage(whole, fl, func(h []byte) { copy(h, bytes.Repeat([]byte{0xA5}, len(h))) })},
		{name: "freelist counting more ids than its page holds", wantDamaged: true,
			file: withPage(whole, fl, func(h []byte) { ne.PutUint16(h[10:], uint16(ps/8)) })},
		{name: "freelist with a long count past its page", wantDamaged: true,
			file: withPage(whole, fl, func(h []byte) { ne.PutUint16(h[10:], bigCount); ne.PutUint64(h[16:], 1<<62) })},
		{name: "freelist with a long count that wraps", wantDamaged: true,
			file: withPage(whole, fl, func(h []byte) { ne.PutUint16(h[10:], bigCount); ne.PutUint64(h[16:], ^uint64(0)) })},
		{name: "freelist spanning pages past the file", wantDamaged: true,
			file: withPage(whole, fl, func(h []byte) { ne.PutUint32(h[12:], 1000) })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.db")
			if err := os.WriteFile(path, tc.file, 0o600); err != nil {
				t.Fatal(err)
			}
			err := Check(path)
			var d *Damage
			if got := errors.As(err, &d); got != tc.wantDamaged {
				t.Errorf("Check = %v, want damaged %v", err, tc.wantDamaged)
			}
		})
	}
	if err := Check(filepath.Join(t.TempDir(), "missing.db")); err != nil {
		t.Errorf("Check of a missing file = %v, want nil (bbolt starts it)", err)
	}
}

// FuzzCheck: the header of a damaged file is read without a panic, a
// meta it accepts has a page size bbolt could have written, and a file it
// passes has a freelist bbolt can read.
func FuzzCheck(f *testing.F) {
	whole, _ := fileOf(f)
	f.Add(whole)
	f.Add(whole[:2*os.Getpagesize()])
	f.Add(whole[:200])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, ok := currentMeta(bytes.NewReader(b))
		if ok && (m.pageSize < 1024 || m.pageSize&(m.pageSize-1) != 0) {
			t.Fatalf("accepted page size %d", m.pageSize)
		}
		if check(bytes.NewReader(b), int64(len(b))) != nil || !ok || m.freelist == noFreelist {
			return
		}
		ps := int(m.pageSize)
		head := b[int(m.freelist)*ps:]
		if binary.NativeEndian.Uint16(head[8:]) != freelistFlag {
			t.Fatalf("passed a freelist page of flags %#x", binary.NativeEndian.Uint16(head[8:]))
		}
	})
}

// TestCheckOfAFileAnotherProcessWrites: Check reads without bbolt's lock,
// so a file another herald holds and commits to is read between commits;
// it must never be called damaged (it would be moved aside under the
// other process). The writer here skips fsync to commit often.
func TestCheckOfAFileAnotherProcessWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "live.db")
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{FreelistType: bbolt.FreelistMapType, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		k := make([]byte, 8)
		for i := uint64(1); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = db.Update(func(tx *bbolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists([]byte("b"))
				if err != nil {
					return err
				}
				binary.BigEndian.PutUint64(k, i)
				if err := b.Put(bytes.Clone(k), make([]byte, 300)); err != nil {
					return err
				}
				binary.BigEndian.PutUint64(k, i-min(i, 500)) // churn the freelist
				return b.Delete(k)
			})
		}
	}()
	defer func() { close(stop); <-done }()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		if err := Check(path); err != nil {
			t.Fatalf("Check of a healthy file another process writes = %v", err)
		}
	}
}
