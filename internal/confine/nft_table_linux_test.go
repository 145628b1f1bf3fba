//go:build linux

package confine

import (
	"errors"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

func nftRules(cg nftCgroup) Rules {
	return Rules{CgroupID: cg.id, Level: cg.level, Alias: netip.MustParseAddr("127.0.0.17"), Deny: loopbackTargets}
}

func TestNftInstallIsAtomic(t *testing.T) {
	if !nftInNetNS(t) {
		return
	}
	first, second := nftNewCgroup(t, nil), nftNewCgroup(t, nil)
	f := HostFirewall()
	tests := []struct {
		name   string
		before []Rules // installed before the failing Install
		fail   Rules
	}{
		{"into an empty ruleset", nil, nftRules(second)},
		{"beside another confinement", []Rules{nftRules(first)}, nftRules(second)},
		{"replacing a complete one", []Rules{nftRules(first), nftRules(second)},
			Rules{CgroupID: second.id, Level: second.level, Alias: netip.MustParseAddr("127.0.0.19"), Deny: loopbackTargets}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range tt.before {
				nftMustInstall(t, f, r)
			}
			want := nftRun(t, "nft", "list", "ruleset")
			// A rule that cannot load, last in the transaction: a jump to a
			// chain that does not exist.
			beforeFlush = func(c *nftables.Conn, tbl *nftables.Table) {
				c.AddRule(&nftables.Rule{Table: tbl, Chain: &nftables.Chain{Name: chainName(tt.fail.CgroupID), Table: tbl},
					Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: "no-such-chain"}}})
			}
			err := f.Install(tt.fail)
			beforeFlush = nil
			if !errors.Is(err, unix.ENOENT) {
				t.Fatalf("Install with a jump to no chain = %v, want ENOENT from the kernel", err)
			}
			if got := nftRun(t, "nft", "list", "ruleset"); got != want {
				t.Errorf("after a failed Install the ruleset is\n%s\nwant it as before:\n%s", got, want)
			}
		})
	}
}

func TestNftRemoveTouchesOnlyItsOwn(t *testing.T) {
	if !nftInNetNS(t) {
		return
	}
	a, b := nftNewCgroup(t, nil), nftNewCgroup(t, nil)
	f := HostFirewall()
	nftMustInstall(t, f, nftRules(a))
	nftMustInstall(t, f, nftRules(b))
	chainB := func() string { return nftRun(t, "nft", "list", "chain", "inet", TableName, chainName(b.id)) }
	before := chainB()
	if err := f.Remove(a.id); err != nil {
		t.Fatalf("Remove(%d) = %v", a.id, err)
	}
	if got := chainB(); got != before {
		t.Errorf("after Remove(a), b's chain is\n%s\nwant\n%s", got, before)
	}
	nftWantList(t, f, []Status{{b.id, true}})
	out := nftRun(t, "nft", "list", "chain", "inet", TableName, baseChainName)
	if strings.Contains(out, chainName(a.id)) {
		t.Errorf("after Remove(a) the base chain still jumps to a:\n%s", out)
	}
	if err := f.Remove(a.id); err != nil {
		t.Errorf("Remove(%d) again = %v, want nil", a.id, err)
	}
}

func nftWantList(t *testing.T, f *Firewall, want []Status) {
	t.Helper()
	got, err := f.List()
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("List() = %v, %v, want %v, nil", got, err, want)
	}
}

func TestNftPresentSeesDamage(t *testing.T) {
	if !nftInNetNS(t) {
		return
	}
	cg := nftNewCgroup(t, nil)
	f := HostFirewall()
	tests := []struct {
		name   string
		damage func(t *testing.T)
	}{
		{"the jump deleted", func(t *testing.T) {
			nftDeleteRuleMatching(t, baseChainName, chainName(cg.id))
		}},
		{"one rule of its chain deleted", func(t *testing.T) {
			nftDeleteRuleMatching(t, chainName(cg.id), "127.0.0.17 return")
		}},
		{"its chain flushed", func(t *testing.T) {
			nftRun(t, "nft", "flush", "chain", "inet", TableName, chainName(cg.id))
		}},
		{"the table flushed", func(t *testing.T) { nftRun(t, "nft", "flush", "table", "inet", TableName) }},
		{"the ruleset flushed", func(t *testing.T) { nftRun(t, "nft", "flush", "ruleset") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nftMustInstall(t, f, nftRules(cg))
			tt.damage(t)
			if ok, err := f.Present(cg.id); ok || err != nil {
				t.Errorf("after %s, Present = %v, %v, want false, nil", tt.name, ok, err)
			}
			// Installing again repairs it, with one jump.
			nftMustInstall(t, f, nftRules(cg))
			if ok, err := f.Present(cg.id); !ok || err != nil {
				t.Errorf("after %s and Install, Present = %v, %v, want true, nil", tt.name, ok, err)
			}
			base := nftRun(t, "nft", "list", "chain", "inet", TableName, baseChainName)
			if n := strings.Count(base, "jump "+chainName(cg.id)); n != 1 {
				t.Errorf("base chain has %d jumps to the confinement, want 1:\n%s", n, base)
			}
		})
	}
}

// nftDeleteRuleMatching deletes, with the nft command, the rule of one of
// our chains whose listing contains substr.
func nftDeleteRuleMatching(t *testing.T, chain, substr string) {
	t.Helper()
	out := nftRun(t, "nft", "-a", "list", "chain", "inet", TableName, chain)
	handle := regexp.MustCompile(`# handle (\d+)`)
	for line := range strings.SplitSeq(out, "\n") {
		if m := handle.FindStringSubmatch(line); m != nil && strings.Contains(line, substr) {
			nftRun(t, "nft", "delete", "rule", "inet", TableName, chain, "handle", m[1])
			return
		}
	}
	t.Fatalf("no rule with %q in\n%s", substr, out)
}
