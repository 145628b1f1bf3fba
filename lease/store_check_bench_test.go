package lease

import (
	"testing"
)

// BenchmarkOpenRenewClose is what acquire of a slug that already holds a
// lease does to the store: lock, open, one renewal transaction, close.
// Renewal touches one record, so whatever a write transaction checks
// beyond it shows here as the difference between the pool sizes.
func BenchmarkOpenRenewClose(b *testing.B) {
	for _, p := range benchPools {
		b.Run("pool="+p.name, func(b *testing.B) {
			pool := MustParsePool(p.spec)
			path := filledFile(b, pool)
			b.ResetTimer()
			for b.Loop() {
				s, err := openStore(path, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Acquire(acquireRequest{Slug: "fill-0", Pool: pool, Now: t0}); err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
	}
}

// BenchmarkCheckRecords is the whole-file pass a write makes after the
// file was written by something else (checkRecords): every lease record
// and index entry of a nearly full pool, in a fresh process's view (the
// database opened anew each time, as the CLI does).
func BenchmarkCheckRecords(b *testing.B) {
	for _, p := range benchPools {
		b.Run("pool="+p.name, func(b *testing.B) {
			path := filledFile(b, MustParsePool(p.spec))
			b.ResetTimer()
			for b.Loop() {
				s, err := openStore(path, &storeOptions{ReadOnly: true})
				if err != nil {
					b.Fatal(err)
				}
				if err := s.view(checkRecords); err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
	}
}
