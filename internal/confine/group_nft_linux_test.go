package confine

import (
	"net/netip"
	"testing"
)

// A Group's ID and Level are what nftables compares: rules installed for
// them (Firewall, in a network namespace of the test's own) confine a
// probe started in the group, and not one started in a sibling group of
// the same slug, nor one outside.
func TestGroupMatchedByNft(t *testing.T) {
	if !nftInNetNS(t) {
		return
	}
	r := findRoot(t)
	g, sibling := newGroup(t, r), newGroup(t, r)
	alias, other := netip.MustParseAddr("127.0.0.17"), netip.MustParseAddr("127.0.0.18")
	aliasPort, otherPort := nftServe(t, alias), nftServe(t, other)
	nftMustInstall(t, HostFirewall(), Rules{
		CgroupID: g.ID(), Level: g.Level(), Alias: alias,
		Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	toAlias, toOther := netip.AddrPortFrom(alias, aliasPort), netip.AddrPortFrom(other, otherPort)
	tests := []struct {
		name  string
		g     *Group
		cases []nftCase
	}{
		{"the group", g, append(nftBoth(toAlias, "ok", "ok"), nftBoth(toOther, "ECONNREFUSED", "EPERM")...)},
		{"its sibling", sibling, append(nftBoth(toAlias, "ok", "ok"), nftBoth(toOther, "ok", "ok")...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nftCheck(t, nftCgroup{dir: tt.g.Dir(), id: tt.g.ID(), level: tt.g.Level()}, tt.cases)
		})
	}
}
