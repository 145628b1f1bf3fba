package listeners

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
	"sort"
)

// Range returns the fewest prefixes that cover the IPv4 addresses from
// first to last, both included (a pool's ranges, for Bound). It returns
// nil unless both are IPv4 and first is not after last.
func Range(first, last netip.Addr) []netip.Prefix {
	if !first.Is4() || !last.Is4() || last.Less(first) {
		return nil
	}
	return spanPrefixes(span4{u32(first), u32(last)})
}

// span4 is an inclusive range of IPv4 addresses as integers.
type span4 struct{ lo, hi uint32 }

// addrSet is the addresses Bound is asked about: IPv4 as sorted, disjoint,
// non-adjacent ranges (so a pool given address by address still becomes a
// few prefixes for the kernel, and a lookup is a binary search), IPv6 as
// the prefixes given.
type addrSet struct {
	v4       []span4
	v6       []netip.Prefix
	prefixes []netip.Prefix // the fewest prefixes covering both, for the kernel filter
}

// newSet normalizes within: v4-mapped prefixes are unmapped, host bits
// masked, invalid prefixes dropped.
func newSet(within []netip.Prefix) addrSet {
	var s addrSet
	for _, p := range within {
		if !p.IsValid() {
			continue
		}
		a, n := p.Addr(), p.Bits()
		if a.Is4In6() {
			if n < 96 {
				continue // reaches past the mapped range: no IPv4 meaning
			}
			a, n = a.Unmap(), n-96
		}
		p = netip.PrefixFrom(a, n).Masked()
		if a.Is6() {
			s.v6 = append(s.v6, p)
			continue
		}
		lo := u32(p.Addr())
		s.v4 = append(s.v4, span4{lo, lo | uint32(uint64(1)<<(32-n)-1)})
	}
	slices.SortFunc(s.v4, func(a, b span4) int { return cmp.Compare(a.lo, b.lo) })
	merged := s.v4[:0]
	for _, r := range s.v4 {
		if last := len(merged) - 1; last >= 0 && uint64(r.lo) <= uint64(merged[last].hi)+1 {
			merged[last].hi = max(merged[last].hi, r.hi)
			continue
		}
		merged = append(merged, r)
	}
	s.v4 = merged
	s.v6 = slices.CompactFunc(slices.SortedFunc(slices.Values(s.v6), comparePrefix), func(a, b netip.Prefix) bool { return a == b })
	for _, r := range s.v4 {
		s.prefixes = append(s.prefixes, spanPrefixes(r)...)
	}
	s.prefixes = append(s.prefixes, s.v6...)
	return s
}

func (s addrSet) empty() bool { return len(s.prefixes) == 0 }

// contains reports whether a (unmapped first) is in the set.
func (s addrSet) contains(a netip.Addr) bool {
	a = a.Unmap()
	if a.Is4() {
		v := u32(a)
		i := sort.Search(len(s.v4), func(i int) bool { return s.v4[i].hi >= v })
		return i < len(s.v4) && s.v4[i].lo <= v
	}
	for _, p := range s.v6 {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// spanPrefixes splits r into the fewest aligned prefixes.
func spanPrefixes(r span4) []netip.Prefix {
	var out []netip.Prefix
	lo, hi := uint64(r.lo), uint64(r.hi)
	for lo <= hi {
		size := 32 // the largest block aligned at lo that fits
		if lo != 0 {
			size = bits.TrailingZeros64(lo)
		}
		for size > 0 && lo+(uint64(1)<<size)-1 > hi {
			size--
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(lo))
		out = append(out, netip.PrefixFrom(netip.AddrFrom4(b), 32-size))
		lo += uint64(1) << size
	}
	return out
}

func u32(a netip.Addr) uint32 { b := a.As4(); return binary.BigEndian.Uint32(b[:]) }

func comparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}
