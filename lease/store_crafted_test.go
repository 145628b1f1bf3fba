package lease

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestGenerationCounterFull: a counter at 2^64-1 refuses the next lease
// (ErrCorrupt, nothing written) instead of wrapping to 0; a renewal,
// which takes no generation, still works.
func TestGenerationCounterFull(t *testing.T) {
	path := craft(t, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyGeneration, binary.BigEndian.AppendUint64(nil, math.MaxUint64))
	})
	s, err := openStore(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := readFile(t, path)
	_, err = s.Acquire(acquireRequest{Slug: "c", Pool: MustParsePool(DefaultPool), Now: t0})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "generation counter is at its maximum") {
		t.Errorf("Acquire(%q) with the counter at 2^64-1 = %v, want ErrCorrupt naming the counter", "c", err)
	}
	if !bytes.Equal(readFile(t, path), before) {
		t.Errorf("the database was written to")
	}
	if res, err := s.Acquire(acquireRequest{Slug: "a", Pool: MustParsePool(DefaultPool), Now: t0}); err != nil || res.Outcome != OutcomeRenewed {
		t.Errorf("renewal of a with the counter at 2^64-1 = %v, %v; want it renewed", res.Outcome, err)
	}
}

// TestUnleasableAlias: a lease record whose alias no pool can hold
// (outside 127.0.0.0/8, or 127.0.0.0, 127.0.0.1, 127.255.255.255), even
// with an index that agrees, is unreadable data for every reader and
// every write.
func TestUnleasableAlias(t *testing.T) {
	for _, alias := range []string{"10.0.0.1", "127.0.0.0", "127.0.0.1", "127.255.255.255", "0.0.0.0", "255.255.255.255"} {
		t.Run(alias, func(t *testing.T) {
			path := craft(t, func(tx *bolt.Tx) error {
				if err := setLease(tx, "b", alias); err != nil {
					return err
				}
				idx := tx.Bucket(bucketAliases)
				if err := idx.Delete(aliasKey(addr("127.0.0.17"))); err != nil {
					return err
				}
				return idx.Put(aliasKey(addr(alias)), []byte("b"))
			})
			before := readFile(t, path)
			s, err := openStore(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Leases(); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), alias) {
				t.Errorf("Leases() with b on %s = %v, want ErrCorrupt naming it", alias, err)
			}
			if _, err := s.Get("b"); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Get(%q) on %s = %v, want ErrCorrupt", "b", alias, err)
			}
			for what, write := range writesOf(MustParsePool(DefaultPool)) {
				if err := write(s); !errors.Is(err, ErrCorrupt) {
					t.Errorf("%s with b on %s = %v, want ErrCorrupt", what, alias, err)
				}
			}
			if !bytes.Equal(readFile(t, path), before) {
				t.Errorf("the database with b on %s was written to", alias)
			}
		})
	}
}

// TestCheckDatabaseKeysAreSlugs: a lease stored under a key that is not a
// valid slug (which aliaslease never writes) fails the health check.
func TestCheckDatabaseKeysAreSlugs(t *testing.T) {
	for _, key := range []string{"-dash", "sp ace", "\x1b[2J", strings.Repeat("k", 129)} {
		path := craft(t, func(tx *bolt.Tx) error {
			if err := setLease(tx, key, "127.0.0.20"); err != nil {
				return err
			}
			return tx.Bucket(bucketAliases).Put(aliasKey(addr("127.0.0.20")), []byte(key))
		})
		m := &Manager{Path: path}
		if _, err := m.CheckDatabase(context.Background()); !errors.Is(err, ErrCorrupt) || !errors.Is(err, ErrInvalidSlug) {
			t.Errorf("CheckDatabase() with a lease under %q = %v, want ErrCorrupt and ErrInvalidSlug", key, err)
		}
	}
}
