package lease

import (
	"iter"
	"net/netip"
)

// leasedFrom yields the leased aliases at or above an address, in
// ascending order, as the alias index stores them.
type leasedFrom func(from uint32) iter.Seq[uint32]

// lowestFree returns the lowest pool address that is neither leased nor
// held. The leased aliases are walked in step with each range of the
// pool (a push iterator, not iter.Pull, whose coroutine switch per alias
// would cost more than the walk itself), so the cost is linear in the
// pool and the leases.
func lowestFree(p Pool, leased leasedFrom, held func(netip.Addr) bool) (netip.Addr, bool) {
	for _, r := range p.ranges {
		// v runs through the range; the leased aliases come in order.
		v, done := r.lo, false
		free := func(upTo uint32) (netip.Addr, bool) { // the first unheld alias in [v, upTo)
			for ; v < upTo; v++ {
				if a := u32ToAddr(v); !held(a) {
					return a, true
				}
			}
			return netip.Addr{}, false
		}
		for k := range leased(r.lo) {
			if k > r.hi {
				break
			}
			if a, ok := free(k); ok {
				return a, true
			}
			if k == r.hi {
				done = true
				break
			}
			v = k + 1
		}
		if !done {
			if a, ok := free(r.hi); ok {
				return a, true
			}
			if a := u32ToAddr(r.hi); !held(a) {
				return a, true
			}
		}
	}
	return netip.Addr{}, false
}

// adoptable returns the lowest pool alias that a container labelled for
// slug publishes on and that no lease holds, for a slug that has no lease.
// It lets a bundle started before aliaslease, or before the database was
// lost, keep the alias it already uses instead of getting a second one.
func adoptable(slug string, holders []Holder, pool Pool, leased func(netip.Addr) bool) (netip.Addr, bool) {
	var best netip.Addr
	for _, h := range holders {
		if h.Slug != slug || !pool.Contains(h.Alias) || leased(h.Alias) {
			continue
		}
		if !best.IsValid() || h.Alias.Less(best) {
			best = h.Alias
		}
	}
	return best, best.IsValid()
}
