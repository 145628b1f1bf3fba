package lease

import (
	"iter"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// naiveLowestFree is lowestFree by definition: every pool address in
// order, the first neither leased nor held.
func naiveLowestFree(p Pool, leased map[uint32]bool, held map[netip.Addr]bool) (netip.Addr, bool) {
	var out netip.Addr
	p.All(func(a netip.Addr) bool {
		if !leased[addrToU32(a)] && !held[a] {
			out = a
			return false
		}
		return true
	})
	return out, out.IsValid()
}

// TestLowestFreeMatchesDefinition compares lowestFree, which walks the
// leased aliases in step with the pool, with the definition, on random
// pools, leases (some outside the pool) and holders.
func TestLowestFreeMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	specs := []string{"127.0.0.16", "127.0.0.16-127.0.0.31", "127.0.0.16-127.0.0.19,127.0.1.0/30,127.0.2.7", "127.1.255.250-127.2.0.5"}
	for i := range 2000 {
		p := MustParsePool(specs[i%len(specs)])
		var all []uint32
		p.All(func(a netip.Addr) bool { all = append(all, addrToU32(a)); return true })
		lo, hi := all[0]-3, all[len(all)-1]+3
		leased, held := map[uint32]bool{}, map[netip.Addr]bool{}
		for v := lo; v <= hi; v++ {
			switch r.IntN(4) {
			case 0:
				leased[v] = true
			case 1:
				held[u32ToAddr(v)] = true
			}
			if r.IntN(3) == 0 { // often everything taken
				leased[v] = true
			}
		}
		sorted := slices.Sorted(func(yield func(uint32) bool) {
			for v := range leased {
				if !yield(v) {
					return
				}
			}
		})
		from := func(start uint32) iter.Seq[uint32] {
			return func(yield func(uint32) bool) {
				for _, v := range sorted {
					if v >= start && !yield(v) {
						return
					}
				}
			}
		}
		got, gotOK := lowestFree(p, from, func(a netip.Addr) bool { return held[a] })
		want, wantOK := naiveLowestFree(p, leased, held)
		if got != want || gotOK != wantOK {
			t.Fatalf("lowestFree(%s) = %v, %v, want %v, %v (leased %v)", p, got, gotOK, want, wantOK, sorted)
		}
	}
}
