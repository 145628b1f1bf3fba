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
// pool, so the cost is linear in the pool and the leases.
func lowestFree(p Pool, leased leasedFrom, held map[netip.Addr]bool) (netip.Addr, bool) {
	for _, r := range p.ranges {
		next, stop := iter.Pull(leased(r.lo))
		k, more := next()
		for v := r.lo; ; v++ {
			for more && k < v {
				k, more = next()
			}
			if a := u32ToAddr(v); !(more && k == v) && !held[a] {
				stop()
				return a, true
			}
			if v == r.hi {
				break
			}
		}
		stop()
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
