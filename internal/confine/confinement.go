// What one confinement is made of, as recorded on its lease: its alias,
// its cgroup, and what else it may reach (the local nameservers, the
// operator's --confine-allow entries).

package confine

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// ResolvConf is the file whose local nameservers a confinement allows on
// port 53; a variable so that tests can point it elsewhere.
var ResolvConf = "/etc/resolv.conf"

// Plan returns the confinement of the cgroup (id, level) to alias, allowing
// the local nameservers of ResolvConf on port 53 and extra, as it is
// recorded on the lease. Install RulesOf it before anything runs in the
// cgroup.
func Plan(id uint64, level uint32, alias netip.Addr, extra []netip.AddrPort) (lease.Confinement, error) {
	deny, err := LocalTargets()
	if err != nil {
		return lease.Confinement{}, err
	}
	conf, err := os.ReadFile(ResolvConf)
	if err != nil && !os.IsNotExist(err) {
		return lease.Confinement{}, fmt.Errorf("read the nameservers: %w", err)
	}
	allow := append(LocalNameservers(conf, deny), extra...)
	for i := range allow {
		allow[i] = netip.AddrPortFrom(allow[i].Addr().Unmap(), allow[i].Port())
	}
	slices.SortFunc(allow, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return lease.Confinement{Alias: alias.Unmap(), CgroupID: id, Level: level,
		Allow: slices.Compact(allow), Since: time.Now().UTC()}, nil
}

// RulesOf returns the rules of a recorded confinement. What is refused is
// read again each time (LocalTargets), so that rules restored under a live
// tree also refuse a bridge made since it started.
func RulesOf(c lease.Confinement) (Rules, error) {
	deny, err := LocalTargets()
	if err != nil {
		return Rules{}, err
	}
	r := Rules{CgroupID: c.CgroupID, Level: c.Level, Alias: c.Alias, Allow: c.Allow, Deny: deny}
	return r.validate()
}

// LocalNameservers returns, as ADDR:53, the nameservers of a resolv.conf
// that lie in local (what a confinement refuses): systemd-resolved's
// 127.0.0.53, a dnsmasq on 127.0.0.1. A remote nameserver needs no
// exception, since traffic that leaves the host is not refused.
func LocalNameservers(resolvConf []byte, local []netip.Prefix) []netip.AddrPort {
	var out []netip.AddrPort
	for _, a := range Nameservers(resolvConf) {
		for _, p := range local {
			if p.Contains(a) {
				out = append(out, netip.AddrPortFrom(a, 53))
				break
			}
		}
	}
	return out
}

// Nameservers returns the addresses of the "nameserver" lines of a
// resolv.conf, unmapped; lines it cannot read (a zone in a link-local
// address, a name) are skipped, as the resolver skips them.
func Nameservers(resolvConf []byte) []netip.Addr {
	var out []netip.Addr
	sc := bufio.NewScanner(bytes.NewReader(resolvConf))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		if a, err := netip.ParseAddr(f[1]); err == nil && a.Zone() == "" {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// ParseAllow reads one --confine-allow entry, ADDR:PORT ([ADDR]:PORT for
// IPv6), with a port other than 0.
func ParseAllow(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	switch {
	case err != nil:
		return netip.AddrPort{}, fmt.Errorf("%q is not ADDR:PORT", s)
	case ap.Port() == 0:
		return netip.AddrPort{}, fmt.Errorf("%q: port 0 allows nothing", s)
	case ap.Addr().Zone() != "":
		return netip.AddrPort{}, fmt.Errorf("%q: a zone is not allowed", s)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}
