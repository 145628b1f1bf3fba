package lease

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// damaged returns a table of unreadable database files.
func damaged(t *testing.T) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	valid := filepath.Join(dir, "valid.db")
	s := openTest(t, valid)
	for i := 0; i < 40; i++ {
		mustAcquire(t, s, acquireRequest{Slug: strings.Repeat("s", 100) + string(rune('a'+i%26)) + string(rune('a'+i/26)), Pool: MustParsePool("127.0.0.64/26")})
	}
	s.Close()
	good := readFile(t, valid)
	// bbolt grows its file in chunks beyond the pages in use; a file cut
	// only in that unused tail is not damaged. Cut the pages in use.
	inUse := bytesInUse(t, valid)
	if inUse < 14*pageSize {
		t.Fatalf("valid database has only %d pages in use", inUse/pageSize)
	}
	rnd := make([]byte, 64<<10)
	rand.New(rand.NewSource(1)).Read(rnd)
	flipped := bytes.Clone(good)
	flipped[pageHeaderLen+20] ^= 0xff          // meta 0: root page id
	flipped[pageSize+pageHeaderLen+20] ^= 0xff // meta 1
	newer := filepath.Join(dir, "newer.db")
	db, err := bolt.Open(newer, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		m, _ := tx.CreateBucket(bucketMeta)
		tx.CreateBucket(bucketLeases)
		tx.CreateBucket(bucketAliases)
		return m.Put(keySchema, []byte{0, 0, 0, 9})
	})
	db.Close()
	foreign := filepath.Join(dir, "foreign.db")
	db, _ = bolt.Open(foreign, 0o600, nil)
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
	db.Close()
	return map[string][]byte{
		"0 bytes":         {},
		"5 bytes":         []byte("hello"),
		"8 KiB of zeros":  make([]byte, 8<<10),
		"random bytes":    rnd,
		"cut in half":     good[:inUse/2],
		"cut to 13 pages": good[:13*pageSize],
		"one page":        good[:pageSize],
		"two pages":       good[:2*pageSize],
		"cut to 9 pages":  good[:9*pageSize],
		"both metas bad":  flipped,
		"newer schema":    readFile(t, newer),
		"not aliaslease":  readFile(t, foreign),
		"text file":       []byte("127.0.0.16 bottle\n"),
	}
}

// pageHeaderLen is the size of bbolt's page header, before a meta page's
// fields.
const pageHeaderLen = 16

// bytesInUse is the size of the pages the database at path uses, as its
// meta page records it (bbolt's high-water mark).
func bytesInUse(t *testing.T, path string) int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
	return int(n)
}

func TestDamagedFiles(t *testing.T) {
	for name, content := range damaged(t) {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "leases.db")
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, o := range []storeOptions{{Create: true}, {}, {ReadOnly: true}} {
				s, err := openStore(path, &o)
				if err == nil {
					s.Close()
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Errorf("Open(%s, %+v) = %v, want ErrCorrupt", name, o, err)
				}
				if name == "newer schema" && !errors.Is(err, ErrNewerSchema) {
					t.Errorf("Open(%s) = %v, want ErrNewerSchema", name, err)
				}
			}
			if got := readFile(t, path); !bytes.Equal(got, content) {
				t.Errorf("Open changed the damaged file (%d bytes, was %d)", len(got), len(content))
			}
		})
	}
}

func TestDamagedLeaseRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	s := openTest(t, path)
	mustAcquire(t, s, acquireRequest{Slug: "a"})
	s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketLeases).Put([]byte("a"), []byte{9, 9}) })
	if _, err := s.Leases(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Leases() over a damaged record = %v, want ErrCorrupt", err)
	}
	if _, err := s.Acquire(acquireRequest{Slug: "a", Pool: MustParsePool(DefaultPool), Now: t0}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Acquire(%q) over a damaged record = %v, want ErrCorrupt", "a", err)
	}
}
