package verify

import (
	"net"
	"net/netip"
	"slices"
)

// BridgeAddr returns an IPv4 address the host has on a bridge that is up
// (docker0 first, then by name), and the bridge's name; ok is false when
// it has none. Containers on a bridge network reach the host there.
func BridgeAddr() (name string, addr netip.Addr, ok bool) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", netip.Addr{}, false
	}
	slices.SortFunc(ifaces, func(a, b net.Interface) int {
		switch {
		case a.Name == b.Name:
			return 0
		case a.Name == "docker0":
			return -1
		case b.Name == "docker0":
			return 1
		case a.Name < b.Name:
			return -1
		}
		return 1
	})
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || !isBridge(ifc) {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, isNet := a.(*net.IPNet); isNet {
				if ip, valid := netip.AddrFromSlice(ipn.IP); valid && ip.Unmap().Is4() {
					return ifc.Name, ip.Unmap(), true
				}
			}
		}
	}
	return "", netip.Addr{}, false
}
