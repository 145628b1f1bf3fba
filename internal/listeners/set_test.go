package listeners

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
)

func strs(ps []netip.Prefix) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

func TestRange(t *testing.T) {
	tests := []struct {
		first, last string
		want        []string
	}{
		{"127.0.0.16", "127.0.0.31", []string{"127.0.0.16/28"}},
		{"127.0.0.2", "127.0.0.9", []string{"127.0.0.2/31", "127.0.0.4/30", "127.0.0.8/31"}},
		{"127.0.0.5", "127.0.0.5", []string{"127.0.0.5/32"}},
		{"0.0.0.0", "255.255.255.255", []string{"0.0.0.0/0"}},
		{"127.255.255.254", "255.255.255.255", []string{"127.255.255.254/31", "128.0.0.0/1"}},
		{"127.0.0.9", "127.0.0.8", []string{}},
		{"::1", "::2", []string{}},
	}
	for _, tt := range tests {
		if got := strs(Range(netip.MustParseAddr(tt.first), netip.MustParseAddr(tt.last))); !slices.Equal(got, tt.want) {
			t.Errorf("Range(%s, %s) = %q, want %q", tt.first, tt.last, got, tt.want)
		}
	}
}

func TestNewSet(t *testing.T) {
	var pool []netip.Prefix // a pool given address by address
	for i := 16; i < 32; i++ {
		pool = append(pool, netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(i)}), 32))
	}
	var big []netip.Prefix
	for i := range 1 << 16 {
		big = append(big, netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 9, byte(i >> 8), byte(i)}), 32))
	}
	tests := []struct {
		name   string
		within []netip.Prefix
		want   []string
	}{
		{"pool", pool, []string{"127.0.0.16/28"}},
		{"65536 addresses", big, []string{"127.9.0.0/16"}},
		{"overlap, host bits, mapped, duplicate IPv6", []netip.Prefix{
			netip.MustParsePrefix("127.0.0.20/30"), netip.MustParsePrefix("127.0.0.17/28"),
			netip.MustParsePrefix("::ffff:127.0.0.0/124"), netip.MustParsePrefix("::1/128"),
			netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("::ffff:0:0/95"), {},
		}, []string{"127.0.0.0/27", "::1/128"}},
	}
	for _, tt := range tests {
		if got := strs(newSet(tt.within).prefixes); !slices.Equal(got, tt.want) {
			t.Errorf("newSet(%s).prefixes = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestSetContains(t *testing.T) {
	set := newSet([]netip.Prefix{
		netip.MustParsePrefix("127.0.0.16/28"), netip.MustParsePrefix("127.0.5.7/32"),
		netip.MustParsePrefix("0.0.0.0/32"), netip.MustParsePrefix("::1/128"),
	})
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.15", false}, {"127.0.0.16", true}, {"127.0.0.31", true}, {"127.0.0.32", false},
		{"127.0.5.7", true}, {"127.0.5.8", false}, {"0.0.0.0", true}, {"0.0.0.1", false},
		{"::ffff:127.0.0.20", true}, {"::ffff:127.0.0.40", false}, {"::1", true}, {"::", false},
		{"255.255.255.255", false},
	}
	for _, tt := range tests {
		if got := set.contains(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("contains(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	if s := fmt.Sprint(newSet(nil).empty(), newSet([]netip.Prefix{{}}).empty()); s != "true true" {
		t.Errorf("newSet(nothing valid).empty() = %s, want true true", s)
	}
}
