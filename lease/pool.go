package lease

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// DefaultPool is the pool used when none is given: sixteen aliases that
// stay clear of 127.0.0.1-3 (used by macOS services and CUPS) and of
// 127.0.0.53/54 (systemd-resolved, libvirt).
const DefaultPool = "127.0.0.16-127.0.0.31"

// MaxPoolSize is the largest number of addresses a pool may hold.
const MaxPoolSize = 1 << 16

// Pool is an ordered set of loopback addresses that may be handed out,
// lowest first. The zero Pool is empty. Pools are immutable.
type Pool struct {
	ranges []span // sorted, disjoint, not adjacent
	size   int
}

// span is an inclusive range of IPv4 addresses as integers.
type span struct{ lo, hi uint32 }

var (
	loopback  = netip.MustParsePrefix("127.0.0.0/8")
	forbidden = []netip.Addr{
		netip.MustParseAddr("127.0.0.0"),
		netip.MustParseAddr("127.0.0.1"),
		netip.MustParseAddr("127.255.255.255"),
	}
)

// ParsePool parses a pool SPEC: comma-separated items, each an address
// (127.0.0.16), a range (127.0.0.16-127.0.0.31) or a CIDR written with its
// network address (127.0.0.16/28). Every address must lie in 127.0.0.0/8;
// an item containing 127.0.0.0, 127.0.0.1 or 127.255.255.255 is refused
// whole, and so is a pool of more than MaxPoolSize addresses. Overlapping
// items are merged. Errors wrap ErrInvalidPool.
func ParsePool(spec string) (Pool, error) {
	if strings.TrimSpace(spec) == "" {
		return Pool{}, fmt.Errorf("%w: empty pool", ErrInvalidPool)
	}
	var spans []span
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		s, err := parseItem(item)
		if err != nil {
			return Pool{}, fmt.Errorf("%w: %q: %v", ErrInvalidPool, item, err)
		}
		for _, f := range forbidden {
			if a := addrToU32(f); a >= s.lo && a <= s.hi {
				return Pool{}, fmt.Errorf("%w: %q contains %s, which is reserved", ErrInvalidPool, item, f)
			}
		}
		spans = append(spans, s)
	}
	p := newPool(spans)
	if p.size > MaxPoolSize {
		return Pool{}, fmt.Errorf("%w: %d addresses, more than the limit of %d", ErrInvalidPool, p.size, MaxPoolSize)
	}
	return p, nil
}

// MustParsePool is like ParsePool but panics on error. It is meant for
// constants in tests and examples.
func MustParsePool(spec string) Pool {
	p, err := ParsePool(spec)
	if err != nil {
		panic(err)
	}
	return p
}

func parseItem(item string) (span, error) {
	switch {
	case item == "":
		return span{}, fmt.Errorf("empty item")
	case strings.Contains(item, "/"):
		pfx, err := netip.ParsePrefix(item)
		if err != nil {
			return span{}, fmt.Errorf("not a CIDR")
		}
		if err := checkAddr(pfx.Addr()); err != nil {
			return span{}, err
		}
		if pfx.Bits() < 8 {
			return span{}, fmt.Errorf("wider than 127.0.0.0/8")
		}
		if m := pfx.Masked(); m != pfx {
			return span{}, fmt.Errorf("host bits set; the network address is %s", m)
		}
		lo := addrToU32(pfx.Addr())
		return span{lo, lo | (1<<(32-pfx.Bits()) - 1)}, nil
	case strings.Contains(item, "-"):
		a, b, _ := strings.Cut(item, "-")
		lo, err := parseAddr(strings.TrimSpace(a))
		if err != nil {
			return span{}, err
		}
		hi, err := parseAddr(strings.TrimSpace(b))
		if err != nil {
			return span{}, err
		}
		if hi < lo {
			return span{}, fmt.Errorf("range runs backwards")
		}
		return span{lo, hi}, nil
	default:
		a, err := parseAddr(item)
		return span{a, a}, err
	}
}

func parseAddr(s string) (uint32, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not an IPv4 address", s)
	}
	if err := checkAddr(a); err != nil {
		return 0, err
	}
	return addrToU32(a), nil
}

func checkAddr(a netip.Addr) error {
	if !a.Is4() {
		return fmt.Errorf("%q is not an IPv4 address", a.String()) // quoted: an IPv6 zone may hold anything
	}
	if !loopback.Contains(a) {
		return fmt.Errorf("%s is outside 127.0.0.0/8", a)
	}
	return nil
}

func newPool(spans []span) Pool {
	sort.Slice(spans, func(i, j int) bool { return spans[i].lo < spans[j].lo })
	var p Pool
	for _, s := range spans {
		if n := len(p.ranges); n > 0 && uint64(s.lo) <= uint64(p.ranges[n-1].hi)+1 {
			if s.hi > p.ranges[n-1].hi {
				p.ranges[n-1].hi = s.hi
			}
			continue
		}
		p.ranges = append(p.ranges, s)
	}
	for _, s := range p.ranges {
		p.size += int(s.hi-s.lo) + 1
	}
	return p
}

// Len reports the number of addresses in the pool.
func (p Pool) Len() int { return p.size }

// Contains reports whether a is in the pool.
func (p Pool) Contains(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	v := addrToU32(a)
	i := sort.Search(len(p.ranges), func(i int) bool { return p.ranges[i].hi >= v })
	return i < len(p.ranges) && p.ranges[i].lo <= v
}

// All calls yield for each address of the pool, lowest first, until yield
// returns false.
func (p Pool) All(yield func(netip.Addr) bool) {
	for _, s := range p.ranges {
		for v := s.lo; ; v++ {
			if !yield(u32ToAddr(v)) {
				return
			}
			if v == s.hi {
				break
			}
		}
	}
}

// Ranges yields the pool's ranges, lowest first, each as its first and
// last address.
func (p Pool) Ranges(yield func(first, last netip.Addr) bool) {
	for _, s := range p.ranges {
		if !yield(u32ToAddr(s.lo), u32ToAddr(s.hi)) {
			return
		}
	}
}

// String returns the pool in canonical SPEC form: its ranges, lowest first.
func (p Pool) String() string {
	parts := make([]string, len(p.ranges))
	for i, s := range p.ranges {
		if s.lo == s.hi {
			parts[i] = u32ToAddr(s.lo).String()
		} else {
			parts[i] = u32ToAddr(s.lo).String() + "-" + u32ToAddr(s.hi).String()
		}
	}
	return strings.Join(parts, ",")
}

func addrToU32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func u32ToAddr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
