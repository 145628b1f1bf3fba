package lease

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestSweepAgreesWithClassify checks the one-verdict rule: on random
// databases and snapshots, the sweep (which judges records from their
// bytes) finds exactly the leases classify calls stale, and records
// held_at exactly on the live ones heldAtDue names.
func TestSweepAgreesWithClassify(t *testing.T) {
	const grace = 10 * time.Minute
	for round := range 20 {
		rng := rand.New(rand.NewPCG(uint64(round), 7))
		s := openTest(t, filepath.Join(t.TempDir(), "l.db"))
		n := 1 + rng.IntN(40)
		pool := MustParsePool("127.0.0.16-127.0.0.79")
		for i := range n {
			at := t0.Add(-time.Duration(rng.IntN(40)) * time.Minute / 2)
			mustAcquire(t, s, acquireRequest{Slug: fmt.Sprintf("s%02d", i), Pool: pool, Now: at})
		}
		var hs []Holder
		for range rng.IntN(30) {
			h := Holder{Alias: u32ToAddr(addrToU32(addr("127.0.0.16")) + uint32(rng.IntN(64))), ID: "c"}
			if rng.IntN(3) == 0 {
				h.Slug = fmt.Sprintf("s%02d", rng.IntN(n+5))
			}
			hs = append(hs, h)
		}
		leases, err := s.Leases()
		if err != nil {
			t.Fatal(err)
		}
		var wantStale, wantDue []string
		for _, d := range classify(leases, hs, t0, grace) {
			switch {
			case d.State == Stale:
				wantStale = append(wantStale, d.Lease.Slug)
			case heldAtDue(d.State, d.Lease.seenAt(), t0, grace):
				wantDue = append(wantDue, d.Lease.Slug)
			}
		}
		var gotStale []string
		err = s.update(func(tx *bolt.Tx) error {
			_, err := sweep(tx, indexHolders(hs), t0, t0, grace, func(l Lease) { gotStale = append(gotStale, l.Slug) })
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		after, err := s.Leases()
		if err != nil {
			t.Fatal(err)
		}
		var gotDue []string
		for _, l := range after {
			if l.HeldAt.Equal(t0) {
				gotDue = append(gotDue, l.Slug)
			}
		}
		slices.Sort(gotStale)
		slices.Sort(wantStale)
		slices.Sort(gotDue)
		slices.Sort(wantDue)
		if !slices.Equal(gotStale, wantStale) || !slices.Equal(gotDue, wantDue) {
			t.Errorf("round %d: sweep stale %v, held_at %v; classify stale %v, due %v", round, gotStale, gotDue, wantStale, wantDue)
		}
		s.Close()
	}
}
