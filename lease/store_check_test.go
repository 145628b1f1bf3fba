package lease

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// craft makes a database the way a store would, then changes it with
// bbolt directly, as another program (or an attacker, or damage) would.
func craft(t *testing.T, change func(tx *bolt.Tx) error) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "leases.db")
	s := openTest(t, path)
	for _, slug := range []string{"a", "b"} {
		mustAcquire(t, s, acquireRequest{Slug: slug})
	}
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(change); err != nil {
		t.Fatal(err)
	}
	return path
}

func setLease(tx *bolt.Tx, slug, alias string) error {
	l := Lease{Slug: slug, Alias: addr(alias), Generation: 7, AcquiredAt: t0, RenewedAt: t0}
	return tx.Bucket(bucketLeases).Put([]byte(slug), encodeLease(l))
}

// TestContradictionsRefusedOnWrite: every write (renewal of either slug,
// a new lease, a release, a process hold, a reclaim) refuses a database
// whose records contradict each other or do not decode, and leaves it
// byte for byte as it was.
func TestContradictionsRefusedOnWrite(t *testing.T) {
	files, writes := contradictions(), writesOf(MustParsePool(DefaultPool))
	for name, change := range files {
		t.Run(name, func(t *testing.T) {
			path := craft(t, change)
			before := readFile(t, path)
			for what, write := range writes {
				s, err := openStore(path, nil)
				if err != nil {
					t.Fatalf("Open(%q) = %v", path, err)
				}
				err = write(s)
				s.Close()
				if !errors.Is(err, ErrCorrupt) {
					t.Errorf("%s on a database with %s = %v, want ErrCorrupt", what, name, err)
				}
			}
			if !bytes.Equal(readFile(t, path), before) {
				t.Errorf("the database with %s was written to", name)
			}
			s, err := openStore(path, &storeOptions{ReadOnly: true})
			if err != nil {
				t.Fatalf("Open(%q) = %v", path, err)
			}
			defer s.Close()
			if err := s.Check(); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Check() on a database with %s = %v, want ErrCorrupt", name, err)
			}
		})
	}
}

// contradictions are changes that make a database contradict itself.
func contradictions() map[string]func(tx *bolt.Tx) error {
	return map[string]func(tx *bolt.Tx) error{
		// a on .16 (indexed), b moved onto .16 too; .17 still indexed to b.
		"two slugs on one alias": func(tx *bolt.Tx) error { return setLease(tx, "b", "127.0.0.16") },
		// Both on .16, the index holding only .16 -> a: the counts differ.
		"two slugs, one index entry": func(tx *bolt.Tx) error {
			if err := setLease(tx, "b", "127.0.0.16"); err != nil {
				return err
			}
			return tx.Bucket(bucketAliases).Delete(aliasKey(addr("127.0.0.17")))
		},
		"index entry missing": func(tx *bolt.Tx) error {
			return tx.Bucket(bucketAliases).Delete(aliasKey(addr("127.0.0.17")))
		},
		"index entry without lease": func(tx *bolt.Tx) error {
			return tx.Bucket(bucketAliases).Put(aliasKey(addr("127.0.0.20")), []byte("ghost"))
		},
		// Every count and every alias and slug as before, only paired
		// differently: the sum of pair hashes must see it.
		"two slugs swapped": func(tx *bolt.Tx) error {
			if err := setLease(tx, "a", "127.0.0.17"); err != nil {
				return err
			}
			return setLease(tx, "b", "127.0.0.16")
		},
		"index names another slug": func(tx *bolt.Tx) error {
			return tx.Bucket(bucketAliases).Put(aliasKey(addr("127.0.0.17")), []byte("a"))
		},
		"a record that does not decode": func(tx *bolt.Tx) error {
			return tx.Bucket(bucketLeases).Put([]byte("b"), []byte{9, 9, 9})
		},
	}
}

// writesOf are the store's writes, each of which must refuse such a
// database.
func writesOf(pool Pool) map[string]func(s *store) error {
	return map[string]func(s *store) error{
		"renew a":   func(s *store) error { _, err := s.Acquire(acquireRequest{Slug: "a", Pool: pool, Now: t0}); return err },
		"renew b":   func(s *store) error { _, err := s.Acquire(acquireRequest{Slug: "b", Pool: pool, Now: t0}); return err },
		"new c":     func(s *store) error { _, err := s.Acquire(acquireRequest{Slug: "c", Pool: pool, Now: t0}); return err },
		"release a": func(s *store) error { _, err := s.Release("a", 0); return err },
		"hold a": func(s *store) error {
			return s.addHolder(ProcessHolder{Slug: "a", RunID: "r", Kind: TreeCgroup, Cgroup: "x"}, true, false)
		},
		"new c with a snapshot": func(s *store) error {
			_, err := s.Acquire(acquireRequest{Slug: "c", Pool: pool, Now: t0, Snapshot: &Snapshot{TakenAt: t0}})
			return err
		},
		"reclaim": func(s *store) error {
			_, err := s.Reclaim(Snapshot{TakenAt: t0.Add(48 * time.Hour)}, 0, false)
			return err
		},
	}
}

// TestVerifiedChain: after a write that verified the file, the next
// write trusts it without reading every record; a write by anything else
// breaks the chain, and the next write reads them all again.
func TestVerifiedChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	s := openTest(t, path)
	mustAcquire(t, s, acquireRequest{Slug: "a"})
	var fresh bool
	err := s.db.Update(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyVerified)
		fresh = len(v) == 8 && binary.BigEndian.Uint64(v) == uint64(tx.ID()-1)
		// Damage b's record in the same transaction, keeping the mark
		// current: what damage at rest after a verified commit looks like.
		if err := tx.Bucket(bucketLeases).Put([]byte("b"), []byte{1}); err != nil {
			return err
		}
		return markVerified(tx)
	})
	if err != nil || !fresh {
		t.Fatalf("after a store write the mark names the previous transaction: %v, %v", fresh, err)
	}
	// Damage at rest is not seen by a renewal that does not touch it ...
	if _, err := s.Acquire(acquireRequest{Slug: "a", Pool: MustParsePool(DefaultPool), Now: t0}); err != nil {
		t.Errorf("renewal over a verified chain = %v, want it trusted", err)
	}
	// ... but by every command that reads all records.
	if _, err := s.Leases(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Leases() = %v, want ErrCorrupt", err)
	}
	// A write by another program breaks the chain.
	s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketLog).Put([]byte("x"), nil) })
	if _, err := s.Acquire(acquireRequest{Slug: "a", Pool: MustParsePool(DefaultPool), Now: t0}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("renewal after a foreign write = %v, want ErrCorrupt from reading every record", err)
	}
}

// TestForgedMark: a verified mark forged onto a changed file (the
// transaction id of the crafting commit, as if a verified writer had
// made it) does not let a write through: a change to the alias index
// shows in its recorded sum, and the file gets the full check; a lease
// record changed alone is refused by every write that touches it.
func TestForgedMark(t *testing.T) {
	forge := func(change func(tx *bolt.Tx) error) func(tx *bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			if err := change(tx); err != nil {
				return err
			}
			return tx.Bucket(bucketMeta).Put(keyVerified, binary.BigEndian.AppendUint64(nil, uint64(tx.ID())))
		}
	}
	all := writesOf(MustParsePool(DefaultPool))
	touchingB := map[string]func(s *store) error{"renew b": all["renew b"]}
	files := contradictions()
	tests := []struct {
		name   string
		writes map[string]func(s *store) error
	}{
		{"two slugs, one index entry", all},
		{"index entry missing", all},
		{"index entry without lease", all},
		{"index names another slug", all},
		{"two slugs on one alias", touchingB},
		{"a record that does not decode", touchingB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if files[tt.name] == nil {
				t.Fatalf("no contradiction %q", tt.name)
			}
			path := craft(t, forge(files[tt.name]))
			before := readFile(t, path)
			for what, write := range tt.writes {
				s, err := openStore(path, nil)
				if err != nil {
					t.Fatalf("Open(%q) = %v", path, err)
				}
				err = write(s)
				s.Close()
				if !errors.Is(err, ErrCorrupt) {
					t.Errorf("%s on a database with %s and a forged mark = %v, want ErrCorrupt", what, tt.name, err)
				}
			}
			if !bytes.Equal(readFile(t, path), before) {
				t.Errorf("the database with %s and a forged mark was written to", tt.name)
			}
		})
	}
}

// TestIndexSumKept: every write keeps the recorded index sum equal to the
// index's, so that the next write trusts the chain without the full
// check (a sum that drifted would send every write to it).
func TestIndexSumKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	s := openTest(t, path)
	pool := MustParsePool(DefaultPool)
	for _, slug := range []string{"a", "b", "c", "d"} {
		mustAcquire(t, s, acquireRequest{Slug: slug})
	}
	if _, err := s.Release("b", 0); err != nil {
		t.Fatal(err)
	}
	mustAcquire(t, s, acquireRequest{Slug: "e"})
	if _, err := s.Reclaim(Snapshot{TakenAt: t0.Add(48 * time.Hour)}, 0, false); err != nil {
		t.Fatal(err)
	}
	mustAcquire(t, s, acquireRequest{Slug: "f", Pool: pool, Now: t0})
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyIndexSum)
		n, sum := indexSum(tx)
		if len(v) != 16 || binary.BigEndian.Uint64(v) != n || binary.BigEndian.Uint64(v[8:]) != sum {
			t.Errorf("recorded index sum %x, want count %d sum %x", v, n, sum)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
