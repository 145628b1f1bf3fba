//go:build linux

// What a confinement refuses: the host's own addresses and its bridges.

package confine

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// loopbackTargets are refused on every host, whatever its interfaces say.
// An IPv4-mapped destination leaves as an IPv4 packet, so 127.0.0.0/8
// already covers ::ffff:127.0.0.0/104; the mapped prefix is kept for a
// rule set that reads right.
var loopbackTargets = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("::ffff:127.0.0.0/104"),
}

// LocalTargets returns what a confinement refuses in the calling process's
// network namespace: loopback (127.0.0.0/8, ::1, IPv4-mapped loopback),
// each address of the host's interfaces, and the whole subnet of each
// address of a bridge (docker0, br-*, any link of kind bridge), since the
// containers on a bridge answer on addresses the host routes to locally.
// That includes a bridge's IPv6 link-local subnet: such a destination does
// not name its link, so fe80::/64 is refused on every link. Prefixes
// another one covers are left out.
func LocalTargets() ([]netip.Prefix, error) {
	bridges, err := bridgeIndexes()
	if err != nil {
		return nil, err
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	out := append([]netip.Prefix(nil), loopbackTargets...)
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", ifc.Name, err)
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			addr, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			addr = addr.Unmap()
			out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
			if ones, bits := ipn.Mask.Size(); bridges[ifc.Index] && bits == addr.BitLen() {
				out = append(out, netip.PrefixFrom(addr, ones).Masked())
			}
		}
	}
	return minimalPrefixes(out), nil
}

// bridgeIndexes returns the interface indexes of the links of kind bridge,
// read over rtnetlink: /sys/class/net shows the links of the network
// namespace that mounted /sys, not necessarily the caller's.
func bridgeIndexes() (map[int]bool, error) {
	rib, err := syscall.NetlinkRIB(syscall.RTM_GETLINK, syscall.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	out := map[int]bool{}
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != syscall.RTM_NEWLINK || len(m.Data) < syscall.SizeofIfInfomsg {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(m)
		if err != nil {
			return nil, fmt.Errorf("list links: %w", err)
		}
		for _, a := range attrs {
			if a.Attr.Type&nlaTypeMask == syscall.IFLA_LINKINFO && linkKind(a.Value) == "bridge" {
				out[int(int32(binary.NativeEndian.Uint32(m.Data[4:8])))] = true
			}
		}
	}
	return out, nil
}

// nlaTypeMask strips NLA_F_NESTED and NLA_F_NET_BYTEORDER from an
// attribute type.
const nlaTypeMask = 0x3fff

// linkKind returns IFLA_INFO_KIND from the nested attributes of an
// IFLA_LINKINFO, or "" when there is none or the data is malformed.
func linkKind(b []byte) string {
	const iflaInfoKind = 1
	for len(b) >= 4 {
		n := int(binary.NativeEndian.Uint16(b[0:2]))
		typ := binary.NativeEndian.Uint16(b[2:4]) & nlaTypeMask
		if n < 4 || n > len(b) {
			return ""
		}
		if typ == iflaInfoKind {
			v := b[4:n]
			for len(v) > 0 && v[len(v)-1] == 0 {
				v = v[:len(v)-1]
			}
			return string(v)
		}
		next := (n + 3) &^ 3
		if next > len(b) {
			return ""
		}
		b = b[next:]
	}
	return ""
}
