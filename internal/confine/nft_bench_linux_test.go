//go:build linux

package confine

import (
	"net/netip"
	"os"
	"testing"
)

// nftBenchRules are the rules of a cgroup that does not exist (no socket
// matches them), refusing what LocalTargets refuses on this host: they
// change only aliaslease's table on the host, and only for that id.
func nftBenchRules(b *testing.B) Rules {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	deny, err := LocalTargets()
	if err != nil {
		b.Fatal(err)
	}
	return Rules{CgroupID: 1<<62 + uint64(os.Getpid()), Level: 1, Alias: netip.MustParseAddr("127.0.0.17"),
		Allow: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.53:53")}, Deny: deny}
}

// BenchmarkNftInstallRemove is one confinement's rules going in and out
// (each one transaction, after reading the table).
func BenchmarkNftInstallRemove(b *testing.B) {
	r, f := nftBenchRules(b), HostFirewall()
	for b.Loop() {
		if err := f.Install(r); err != nil {
			b.Fatal(err)
		}
		if err := f.Remove(r.CgroupID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNftPresent is the check a watcher makes on each change.
func BenchmarkNftPresent(b *testing.B) {
	r, f := nftBenchRules(b), HostFirewall()
	if err := f.Install(r); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Remove(r.CgroupID) })
	for b.Loop() {
		if ok, err := f.Present(r.CgroupID); !ok || err != nil {
			b.Fatalf("Present = %v, %v", ok, err)
		}
	}
}
