package lease

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// benchPools are the pool sizes of the benchmarks: the default, a large
// and the largest pool allowed.
var benchPools = []struct {
	name string
	spec string
}{
	{"16", "127.0.0.16/28"},
	{"4096", "127.1.0.0/20"},
	{"65536", "127.1.0.0/16"},
}

// fill leases every pool address but the last to its own slug, in one
// transaction, as if the pool had filled up over time.
// filledFile makes a database of a nearly full pool, closed, and returns
// its path: what each benchmark of a fresh process's view opens anew.
func filledFile(b *testing.B, pool Pool) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "leases.db")
	s, err := openStore(path, &storeOptions{Create: true})
	if err != nil {
		b.Fatal(err)
	}
	fill(b, s, pool)
	s.Close()
	return path
}

func fill(b *testing.B, s *store, pool Pool) {
	b.Helper()
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		pool.All(func(a netip.Addr) bool {
			if n == pool.Len()-1 {
				return false
			}
			l := Lease{Slug: fmt.Sprintf("fill-%d", n), Alias: a, Generation: uint64(n + 1), AcquiredAt: t0, RenewedAt: t0}
			if err = tx.Bucket(bucketLeases).Put([]byte(l.Slug), encodeLease(l)); err == nil {
				err = tx.Bucket(bucketAliases).Put(aliasKey(a), []byte(l.Slug))
			}
			n++
			return err == nil
		})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAcquireRelease measures one new lease and its release on a
// nearly full pool: two transactions, each with bbolt's syncs, and the
// walk for the lowest free alias.
func BenchmarkAcquireRelease(b *testing.B) {
	for _, p := range benchPools {
		b.Run("pool="+p.name, func(b *testing.B) {
			pool := MustParsePool(p.spec)
			s, err := openStore(filepath.Join(b.TempDir(), "leases.db"), &storeOptions{Create: true})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			fill(b, s, pool)
			b.ResetTimer()
			for b.Loop() {
				res, err := s.Acquire(acquireRequest{Slug: "bench", Pool: pool, Now: t0})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Release("bench", res.Lease.Generation); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpenAcquireClose is what one acquire command does to the store
// with Docker off: lock, open, one transaction, close.
func BenchmarkOpenAcquireClose(b *testing.B) {
	for _, p := range benchPools {
		b.Run("pool="+p.name, func(b *testing.B) {
			pool := MustParsePool(p.spec)
			path := filledFile(b, pool)
			i := 0
			b.ResetTimer()
			for b.Loop() {
				s, err := openStore(path, nil)
				if err != nil {
					b.Fatal(err)
				}
				res, err := s.Acquire(acquireRequest{Slug: "bench", Pool: pool, Now: t0})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				s.Release("bench", res.Lease.Generation)
				s.Close()
				i++
				b.StartTimer()
			}
		})
	}
}

// BenchmarkClassify judges a nearly full pool's leases against holders on
// half of them.
func BenchmarkClassify(b *testing.B) {
	for _, p := range benchPools {
		b.Run("pool="+p.name, func(b *testing.B) {
			pool := MustParsePool(p.spec)
			var leases []Lease
			var holders []Holder
			pool.All(func(a netip.Addr) bool {
				n := len(leases)
				leases = append(leases, Lease{Slug: fmt.Sprintf("s-%d", n), Alias: a, RenewedAt: t0.Add(-time.Duration(n%20) * time.Minute)})
				if n%2 == 0 {
					holders = append(holders, Holder{Alias: a, Name: fmt.Sprintf("c-%d", n)})
				}
				return len(leases) < pool.Len()-1
			})
			b.ResetTimer()
			for b.Loop() {
				if ds := classify(leases, holders, testAt, 10*time.Minute); len(ds) != len(leases) {
					b.Fatalf("classify = %d decisions", len(ds))
				}
			}
		})
	}
}

// BenchmarkSweep measures gc's one pass over a nearly full pool of leases
// without holders, in a read-only transaction (a gc with nothing to
// write): on a database no observation has seen, and on one three
// observations found vacant (every lease with a vacancy record, joined
// beside the leases).
func BenchmarkSweep(b *testing.B) {
	pool := MustParsePool("127.1.0.0/16")
	for _, observed := range []bool{false, true} {
		b.Run(fmt.Sprintf("observed=%v", observed), func(b *testing.B) {
			path := filledFile(b, pool)
			s, err := openStore(path, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			idx := indexHolders(nil)
			at := testAt
			if observed {
				for range 3 {
					at.boot += time.Minute
					if err := s.update(func(tx *bolt.Tx) error {
						_, err := sweep(tx, idx, nil, at, at.wall, time.Hour, func(Lease) {})
						return err
					}); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ResetTimer()
			for b.Loop() {
				if err := s.view(func(tx *bolt.Tx) error {
					_, err := sweep(tx, idx, nil, at, at.wall, time.Hour, func(Lease) {})
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
