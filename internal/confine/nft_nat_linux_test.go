//go:build linux

package confine

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/google/nftables"
)

// nftDNAT loads, in the test's own network namespace, what Docker without
// its userland proxy does for published loopback ports: a DNAT in nat
// OUTPUT (priority -100). from:port is sent to to.
func nftDNAT(t *testing.T, rules ...[2]netip.AddrPort) {
	t.Helper()
	var b strings.Builder
	b.WriteString("table ip dockerish {\n chain output {\n  type nat hook output priority -100; policy accept;\n")
	for _, r := range rules {
		for _, proto := range []string{"tcp", "udp"} {
			fmt.Fprintf(&b, "  ip daddr %v %s dport %d dnat to %v\n", r[0].Addr(), proto, r[0].Port(), r[1])
		}
	}
	b.WriteString(" }\n}\n")
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v\n%s\n%s", err, out, b.String())
	}
}

func TestNftJudgesOriginalDestination(t *testing.T) {
	if !nftInNetNS(t) {
		return
	}
	alias, other := netip.MustParseAddr("127.0.0.17"), netip.MustParseAddr("127.0.0.18")
	aliasSvc := netip.AddrPortFrom(alias, nftServe(t, alias))
	otherSvc := netip.AddrPortFrom(other, nftServe(t, other))
	// Another alias's published port, translated to a destination the
	// cgroup may reach (its own alias); and the cgroup's own published
	// port, translated to one it may not (as its own container's bridge
	// address would be).
	otherPublished, ownPublished := netip.AddrPortFrom(other, 9999), netip.AddrPortFrom(alias, 9998)
	nftDNAT(t, [2]netip.AddrPort{otherPublished, aliasSvc}, [2]netip.AddrPort{ownPublished, otherSvc})
	cg := nftNewCgroup(t, nil)
	r := Rules{CgroupID: cg.id, Level: cg.level, Alias: alias, Deny: loopbackTargets}
	f := HostFirewall()

	tests := []struct {
		name     string
		priority nftables.ChainPriority
		other    [2]string // TCP, UDP to otherPublished from inside
		own      [2]string // TCP, UDP to ownPublished from inside
	}{
		{"before nat", outputPriority, [2]string{"ECONNREFUSED", "EPERM"}, [2]string{"ok", "ok"}},
		// The same rules hooked after nat judge the translated destination:
		// what this test exists to catch.
		{"after nat (what must not be)", 0, [2]string{"ok", "ok"}, [2]string{"ECONNREFUSED", "EPERM"}},
	}
	saved := outputPriority
	t.Cleanup(func() { outputPriority = saved })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outputPriority = tt.priority
			nftMustInstall(t, f, r)
			var cases []nftCase
			cases = append(cases, nftBoth(otherPublished, tt.other[0], tt.other[1])...)
			cases = append(cases, nftBoth(ownPublished, tt.own[0], tt.own[1])...)
			nftCheck(t, cg, cases)
		})
	}
}

func TestNftCgroupIDIsWhatTheKernelCompares(t *testing.T) {
	if !nftInNetNS(t) {
		return
	}
	parent := nftNewCgroup(t, nil)
	child := nftNewCgroup(t, &parent)
	sibling := nftNewCgroup(t, nil)
	for _, cg := range []nftCgroup{parent, child, sibling} {
		fi, err := os.Stat(cg.dir)
		if err != nil {
			t.Fatal(err)
		}
		if ino := fi.Sys().(*syscall.Stat_t).Ino; ino != cg.id {
			t.Errorf("%s: inode %d, name_to_handle_at id %d: want them equal", cg.dir, ino, cg.id)
		}
	}
	alias, other := netip.MustParseAddr("127.0.0.17"), netip.MustParseAddr("127.0.0.18")
	target := []nftTarget{{"tcp", netip.AddrPortFrom(other, nftServe(t, other))}}
	f := HostFirewall()
	tests := []struct {
		name  string
		id    uint64
		level uint32
		in    nftCgroup
		want  string
	}{
		{"its id at its level", parent.id, parent.level, parent, "ECONNREFUSED"},
		{"a child, by its parent's id at the parent's level", parent.id, parent.level, child, "ECONNREFUSED"},
		{"the child's own id at its level", child.id, child.level, child, "ECONNREFUSED"},
		{"another cgroup's id", sibling.id, sibling.level, parent, "ok"},
		{"its id at a level below it", parent.id, parent.level + 1, parent, "ok"},
		{"the child's id at the parent's level", child.id, parent.level, child, "ok"},
		{"the id off by one", parent.id + 1, parent.level, parent, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Rules{CgroupID: tt.id, Level: tt.level, Alias: alias, Deny: loopbackTargets}
			nftMustInstall(t, f, r)
			if got := nftProbeIn(t, tt.in, target); got[0] != tt.want {
				t.Errorf("rule for id %d level %d, probe in %s: %v = %s, want %s",
					tt.id, tt.level, tt.in.dir, target[0], got[0], tt.want)
			}
		})
	}
}
