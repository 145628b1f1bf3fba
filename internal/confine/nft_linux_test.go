//go:build linux

package confine

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// nftCase is one destination and what a probe inside the cgroup and one
// outside it get.
type nftCase struct {
	target          nftTarget
	inside, outside string
}

func nftCheck(t *testing.T, cg nftCgroup, cases []nftCase) {
	t.Helper()
	targets := make([]nftTarget, len(cases))
	for i, c := range cases {
		targets[i] = c.target
	}
	in, out := nftProbeIn(t, cg, targets), nftProbe(targets)
	for i, c := range cases {
		if in[i] != c.inside {
			t.Errorf("inside the cgroup: %v = %s, want %s", c.target, in[i], c.inside)
		}
		if out[i] != c.outside {
			t.Errorf("outside the cgroup: %v = %s, want %s", c.target, out[i], c.outside)
		}
	}
}

// nftBoth is the TCP and the UDP case of one address and port.
func nftBoth(ap netip.AddrPort, tcpIn, udpIn string) []nftCase {
	return []nftCase{
		{nftTarget{"tcp", ap}, tcpIn, "ok"},
		{nftTarget{"udp", ap}, udpIn, "ok"},
	}
}

// nftListTables is the nft command's view of the ruleset's tables: a
// witness that is not this package.
func nftListTables(t *testing.T) string {
	t.Helper()
	return nftRun(t, "nft", "list", "tables")
}

func nftMustInstall(t *testing.T, f *Firewall, r Rules) {
	t.Helper()
	if err := f.Install(r); err != nil {
		t.Fatalf("Install(cgroup %d) = %v, want nil", r.CgroupID, err)
	}
	t.Cleanup(func() {
		if err := f.Remove(r.CgroupID); err != nil {
			t.Errorf("Remove(%d) = %v", r.CgroupID, err)
		}
	})
}

func TestNftConfinesCgroup(t *testing.T) {
	if !nftInNetNS(t) {
		return
	}
	bridge, container := nftBridge(t)
	alias, other := netip.MustParseAddr("127.0.0.17"), netip.MustParseAddr("127.0.0.18")
	lo4, lo6 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")
	aliasPort, otherPort := nftServe(t, alias), nftServe(t, other)
	lo4Port, lo6Port, bridgePort := nftServe(t, lo4), nftServe(t, lo6), nftServe(t, bridge)

	deny, err := LocalTargets()
	if err != nil {
		t.Fatalf("LocalTargets() = %v", err)
	}
	for _, want := range []string{"127.0.0.0/8", "::1/128", "10.213.7.0/24"} {
		if !slices.Contains(deny, netip.MustParsePrefix(want)) {
			t.Fatalf("LocalTargets() = %v, want %s in it", deny, want)
		}
	}
	cg := nftNewCgroup(t, nil)
	f := HostFirewall()
	r := Rules{CgroupID: cg.id, Level: cg.level, Alias: alias, Deny: deny}
	nftMustInstall(t, f, r)
	t.Logf("the ruleset:\n%s", nftRun(t, "nft", "list", "ruleset"))

	refused := func(ap netip.AddrPort) []nftCase { return nftBoth(ap, "ECONNREFUSED", "EPERM") }
	var cases []nftCase
	cases = append(cases, nftBoth(netip.AddrPortFrom(alias, aliasPort), "ok", "ok")...)
	cases = append(cases, refused(netip.AddrPortFrom(other, otherPort))...)
	cases = append(cases, refused(netip.AddrPortFrom(lo4, lo4Port))...)
	cases = append(cases, refused(netip.AddrPortFrom(lo6, lo6Port))...)
	cases = append(cases, refused(netip.MustParseAddrPort("[::ffff:127.0.0.18]:0"))...)
	cases = append(cases, refused(netip.AddrPortFrom(netip.IPv4Unspecified(), lo4Port))...) // 0.0.0.0 is 127.0.0.1
	cases = append(cases, refused(netip.AddrPortFrom(bridge, bridgePort))...)
	cases = append(cases, refused(container)...)
	for i := range cases { // the mapped address reaches 127.0.0.18's listener
		if cases[i].target.Addr.Port() == 0 {
			cases[i].target.Addr = netip.AddrPortFrom(cases[i].target.Addr.Addr(), otherPort)
		}
	}
	nftCheck(t, cg, cases)

	if ok, err := f.Present(cg.id); !ok || err != nil {
		t.Errorf("Present(%d) = %v, %v, want true, nil", cg.id, ok, err)
	}
	if err := f.Remove(cg.id); err != nil {
		t.Fatalf("Remove(%d) = %v", cg.id, err)
	}
	if ok, err := f.Present(cg.id); ok || err != nil {
		t.Errorf("after Remove, Present(%d) = %v, %v, want false, nil", cg.id, ok, err)
	}
	if tables := nftListTables(t); strings.Contains(tables, TableName) {
		t.Errorf("after Remove, nft list tables = %q, want no %s", tables, TableName)
	}
	for i := range cases {
		cases[i].inside = "ok"
	}
	nftCheck(t, cg, cases)
}

func TestNftAllow(t *testing.T) {
	if !nftInNetNS(t) {
		return
	}
	alias, stub := netip.MustParseAddr("127.0.0.17"), netip.MustParseAddr("127.0.0.53")
	aliasPort, stubOther := nftServe(t, alias), nftServe(t, stub)
	dns := netip.AddrPortFrom(stub, 53)
	nftServeAt(t, dns)
	cg := nftNewCgroup(t, nil)
	deny, err := LocalTargets()
	if err != nil {
		t.Fatal(err)
	}
	nftMustInstall(t, HostFirewall(), Rules{CgroupID: cg.id, Level: cg.level, Alias: alias,
		Allow: []netip.AddrPort{dns}, Deny: deny})
	var cases []nftCase
	cases = append(cases, nftBoth(netip.AddrPortFrom(alias, aliasPort), "ok", "ok")...)
	cases = append(cases, nftBoth(dns, "ok", "ok")...)
	cases = append(cases, nftBoth(netip.AddrPortFrom(stub, stubOther), "ECONNREFUSED", "EPERM")...)
	nftCheck(t, cg, cases)
}

// nftServeAt is nftServe on a given port.
func nftServeAt(t *testing.T, ap netip.AddrPort) {
	t.Helper()
	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", ap.String())
	if err != nil {
		t.Fatal(err)
	}
	nftServeOn(ln, pc)
	t.Cleanup(func() { ln.Close(); pc.Close() })
}

func TestNftHostRuleset(t *testing.T) {
	// On the host's own ruleset (Docker's tables, whatever else is there):
	// only aliaslease's table is touched, and only for the test's cgroup.
	nftNeedRoot(t)
	before := nftListTables(t)
	alias, other := netip.MustParseAddr("127.0.211.17"), netip.MustParseAddr("127.0.211.18")
	aliasPort, otherPort := nftServe(t, alias), nftServe(t, other)
	deny, err := LocalTargets()
	if err != nil {
		t.Fatal(err)
	}
	cg := nftNewCgroup(t, nil)
	f := HostFirewall()
	nftMustInstall(t, f, Rules{CgroupID: cg.id, Level: cg.level, Alias: alias, Deny: deny})
	var cases []nftCase
	cases = append(cases, nftBoth(netip.AddrPortFrom(alias, aliasPort), "ok", "ok")...)
	cases = append(cases, nftBoth(netip.AddrPortFrom(other, otherPort), "ECONNREFUSED", "EPERM")...)
	nftCheck(t, cg, cases)
	if err := f.Remove(cg.id); err != nil {
		t.Fatal(err)
	}
	if after := nftListTables(t); after != before {
		t.Errorf("nft list tables after Remove = %q, want %q as before", after, before)
	}
}
