package test

import (
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/internal/fstree"
	bolt "go.etcd.io/bbolt"
)

// storageSameTree fails the test for every difference between two trees.
func storageSameTree(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for _, d := range fstree.Diff(before, after) {
		t.Errorf("%s: %s", what, d)
	}
}

// storageBolt changes a database with bbolt directly, as another
// program, an attacker or damage would.
func storageBolt(t *testing.T, path string, change func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(change); err != nil {
		t.Fatal(err)
	}
}
