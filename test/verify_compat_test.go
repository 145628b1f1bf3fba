package test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aliaslease/aliaslease/lease"
)

// TestOlderBinaryAndIsolation: the verdict's bucket sits beside records an
// older binary of schema 2 reads byte for byte. The older binary lists,
// renews and releases a verified lease; a renewal of its keeps the
// verdict (the same lease), and its release and a new lease reset it, as
// this binary's own do. Every file stays consistent for this binary's
// full check.
func TestOlderBinaryAndIsolation(t *testing.T) {
	older := buildOlder(t)
	p := hostPool(t, 8)
	env := []string{"ALIASLEASE_DOCKER=off", "ALIASLEASE_DB=" + filepath.Join(t.TempDir(), "leases.db"), "ALIASLEASE_POOL=" + p.spec()}
	run := func(exe string, args ...string) string {
		t.Helper()
		r := runBin(t, exe, env, args...)
		if r.code != 0 {
			t.Fatalf("%s %s: %v", filepath.Base(exe), strings.Join(args, " "), r)
		}
		return strings.TrimSpace(r.stdout)
	}
	check := func() {
		t.Helper()
		m := &lease.Manager{Path: strings.TrimPrefix(env[1], "ALIASLEASE_DB="), Pool: lease.MustParsePool(p.spec())}
		if _, err := m.CheckDatabase(context.Background()); err != nil {
			t.Fatalf("CheckDatabase after the older binary wrote: %v", err)
		}
	}
	run(bin, "acquire", "--no-ifup", "a")
	run(bin, "acquire", "--no-ifup", "b")
	if r := cli(t, env, "verify", "a"); r.code != 9 {
		t.Fatalf("verify a = %v, want exit 9 (leaky)", r)
	}
	if out := run(older, "list"); !strings.Contains(out, "a ") || !strings.Contains(out, "b ") {
		t.Errorf("older list = %q, want both leases", out)
	}
	run(older, "acquire", "--no-ifup", "a")
	check()
	if got := listIsolation(t, env, "a"); got != "leaky" {
		t.Errorf("isolation of a after the older binary renewed it = %q, want leaky (the same lease)", got)
	}
	run(older, "release", "a")
	run(older, "acquire", "--no-ifup", "a")
	check()
	if got := listIsolation(t, env, "a"); got != "unverified" {
		t.Errorf("isolation of a after the older binary released and leased it again = %q, want unverified", got)
	}
	// A verdict the older binary's release left behind, with no lease of
	// its slug: the file is still consistent, and a new lease of this
	// binary's starts unverified.
	cli(t, env, "verify", "b")
	run(older, "release", "b")
	check()
	run(bin, "acquire", "--no-ifup", "b")
	if got := listIsolation(t, env, "b"); got != "unverified" {
		t.Errorf("isolation of b, leased again after the older binary released it = %q, want unverified", got)
	}
}
