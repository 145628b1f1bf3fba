package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/aliaslease/aliaslease/lease"
)

// TestCompleteEscapes: __complete prints the slugs of the database, and
// database contents are escaped there as in every other output: a key a
// crafted file holds reaches the terminal with no control character.
func TestCompleteEscapes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	m := &lease.Manager{Path: path, Pool: lease.MustParsePool(lease.DefaultPool), LockTimeout: lease.DefaultLockTimeout}
	if _, err := m.Acquire(context.Background(), "bottle", 0); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		leases := tx.Bucket([]byte("leases"))
		rec := append([]byte{}, leases.Get([]byte("bottle"))...)
		rec[4] = 20 // 127.0.0.20
		bad := []byte("b\x1b]0;owned\x07")
		if err := leases.Put(bad, rec); err != nil {
			return err
		}
		return tx.Bucket([]byte("aliases")).Put([]byte{127, 0, 0, 20}, bad)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	app := newApp(&stdout, &stderr)
	if err := app.Run([]string{"aliaslease", "__complete", "--db", path, "release", "b"}); err != nil {
		t.Fatalf("__complete: %v (%s)", err, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "bottle\n") || !strings.Contains(out, `b\x1b]0;owned\a`+"\n") || strings.ContainsAny(out, "\x1b\x07") {
		t.Errorf("__complete release b = %q, want bottle and the crafted key escaped", out)
	}
}
