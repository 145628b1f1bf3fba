//go:build linux

package test

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/aliaslease/aliaslease/internal/confine"
)

// verifyEnvNetNS names the test a re-executed test binary runs in a
// network namespace of its own.
const verifyEnvNetNS = "ALIASLEASE_VERIFY_NETNS"

// A bottle confined as #24's rules confine one (a cgroup of its own,
// aliaslease's nftables rules refusing the host's addresses but its
// alias) is isolated: verify's probe, run in that cgroup by a PREFIX
// that enters it, reaches its own alias and nothing else, and exits 0.
// The same verify without the PREFIX (a host process) is leaky. The
// cgroup and the rules are the test's own (run --confine does not make
// them yet), in a network namespace of its own, so the host's firewall
// is never touched.
func TestVerifyConfinedIsIsolated(t *testing.T) {
	if !isRoot() {
		t.Skip("needs root: a cgroup, nftables rules and a network namespace")
	}
	if os.Getenv(verifyEnvNetNS) != t.Name() {
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), verifyEnvNetNS+"="+t.Name())
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
		out, err := cmd.CombinedOutput()
		t.Logf("in a network namespace of its own:\n%s", out)
		if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
			t.Fatalf("%s in its own network namespace: %v", t.Name(), err)
		}
		return
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v\n%s", err, out)
	}
	env := verifyEnv(t)
	mustCLI(t, env, "acquire", "b")
	alias := netip.MustParseAddr(strings.TrimSpace(mustCLI(t, env, "acquire", "a")))
	g := testConfinement(t, alias)
	enter := `echo $$ > "$1/cgroup.procs" && shift && exec "$@"`
	v := verifyRun(t, env, "a", "--", "sh", "-c", enter, "sh", g.Dir(), bin)
	if v.Verdict != "isolated" || !slices.Equal(v.reached(), []string{"own alias"}) {
		t.Errorf("verify a in its confinement = %q reaching %v, want isolated reaching only its own alias", v.Verdict, v.reached())
	}
	if got := listIsolation(t, env, "a"); got != "verified" {
		t.Errorf("list: %q, want verified", got)
	}
	if v := verifyRun(t, env, "a"); v.Verdict != "leaky" {
		t.Errorf("verify a as a host process = %q, want leaky", v.Verdict)
	}
	if got := listIsolation(t, env, "a"); got != "leaky" {
		t.Errorf("list after the second verify: %q, want leaky", got)
	}
}

// testConfinement makes a cgroup and installs the confinement's rules for
// it with alias as its own, and removes both when the test ends.
func testConfinement(t *testing.T, alias netip.Addr) *confine.Group {
	t.Helper()
	r, err := confine.Find()
	if err != nil {
		t.Fatalf("confine.Find() = %v", err)
	}
	name, err := confine.RunName("verify-test", 1)
	if err != nil {
		t.Fatal(err)
	}
	g, err := r.New(name)
	if err != nil {
		t.Fatalf("New(%q) = %v", name, err)
	}
	t.Cleanup(func() {
		g.Kill()
		if err := g.Remove(); err != nil {
			t.Errorf("remove the test's cgroup: %v", err)
		}
		g.Close()
	})
	deny, err := confine.LocalTargets()
	if err != nil {
		t.Fatal(err)
	}
	fw := confine.HostFirewall() // of this test's own network namespace
	if err := fw.Install(confine.Rules{CgroupID: g.ID(), Level: g.Level(), Alias: alias, Deny: deny}); err != nil {
		t.Fatalf("Install = %v", err)
	}
	t.Cleanup(func() {
		if err := fw.Remove(g.ID()); err != nil {
			t.Errorf("remove the test's rules: %v", err)
		}
	})
	return g
}
