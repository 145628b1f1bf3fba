package lease

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/lease/internal/safefile"
	bolt "go.etcd.io/bbolt"
)

// BenchmarkOpenParts is what each open of the database costs, part by
// part, on the default pool's file (16 leases): the walk to the
// directory, the lock file (shared and exclusive, taken and released),
// the database file's check, bbolt's open (read-only and for writing),
// and whole opens as a decision makes them.
func BenchmarkOpenParts(b *testing.B) {
	pool := MustParsePool("127.0.0.16/28")
	path := filledFile(b, pool)
	dir, base := filepath.Dir(path), filepath.Base(path)
	d, err := safefile.OpenDir(dir, false)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	parts := []struct {
		name string
		fn   func(b *testing.B)
	}{
		{"walk", func(b *testing.B) {
			d, err := safefile.OpenDir(dir, false)
			if err != nil {
				b.Fatal(err)
			}
			d.Close()
		}},
		{"lock-shared", func(b *testing.B) {
			h, err := d.Lock(ctx, base+lockSuffix, safefile.LockOptions{Shared: true, Timeout: DefaultLockTimeout})
			if err != nil {
				b.Fatal(err)
			}
			h.Unlock()
		}},
		{"lock-exclusive", func(b *testing.B) {
			h, err := d.Lock(ctx, base+lockSuffix, safefile.LockOptions{Timeout: DefaultLockTimeout})
			if err != nil {
				b.Fatal(err)
			}
			recordHolder(h.File(), "bench")
			h.Unlock()
		}},
		{"check-file", func(b *testing.B) {
			f, i, err := d.OpenAt(base, os.O_RDONLY, "database")
			if err != nil {
				b.Fatal(err)
			}
			if err := safefile.CheckFile(f, path, i.Size()); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}},
		{"bolt-read-only", func(b *testing.B) { boltOpenClose(b, d, base, path, true) }},
		{"bolt-write", func(b *testing.B) { boltOpenClose(b, d, base, path, false) }},
		{"store-read-only", func(b *testing.B) {
			s, err := openStore(path, &storeOptions{ReadOnly: true})
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}},
		{"store-write", func(b *testing.B) {
			s, err := openStore(path, nil)
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}},
	}
	for _, p := range parts {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				p.fn(b)
			}
		})
	}
}

// boltOpenClose opens the checked file with bbolt as store.open does,
// reads the schema, and closes it.
func boltOpenClose(b *testing.B, d *safefile.Dir, base, path string, readOnly bool) {
	b.Helper()
	i, err := d.Lstat(base)
	if err != nil {
		b.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: readOnly, PageSize: pageSize, OpenFile: d.Opener(base, i)})
	if err != nil {
		b.Fatal(err)
	}
	if err := db.View(checkSchema); err != nil {
		b.Fatal(err)
	}
	db.Close()
}

// BenchmarkManagerAcquire is Manager.Acquire with Docker on (an
// inventory that answers at once, without holders) on the default pool:
// a new lease (released again, untimed) and a renewal, with every open
// the decision makes.
func BenchmarkManagerAcquire(b *testing.B) {
	m := &Manager{
		Path:        filepath.Join(b.TempDir(), "leases.db"),
		Pool:        MustParsePool(DefaultPool),
		LockTimeout: time.Second,
		Grace:       DefaultGrace,
		Inventory:   &fakeInventory{},
		Mode:        InventoryOn,
	}
	ctx := context.Background()
	if _, err := m.Acquire(ctx, "renewed", 0); err != nil {
		b.Fatal(err)
	}
	b.Run("new", func(b *testing.B) {
		for b.Loop() {
			res, err := m.Acquire(ctx, "new", 0)
			if err != nil || res.Outcome != OutcomeNew {
				b.Fatalf("Acquire(%q) = %v, %v, want a new lease", "new", res.Outcome, err)
			}
			b.StopTimer()
			if _, err := m.Release(ctx, "new", 0); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
	b.Run("renewal", func(b *testing.B) {
		for b.Loop() {
			if res, err := m.Acquire(ctx, "renewed", 0); err != nil || res.Outcome != OutcomeRenewed {
				b.Fatalf("Acquire(%q) = %v, %v, want a renewal", "renewed", res.Outcome, err)
			}
		}
	})
}
