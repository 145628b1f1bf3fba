package test

import (
	"strings"
	"testing"
	"time"
)

// TestShortGapKeepsAlias is the gap at scale: gc as often as the
// grace, a bundle re-created with a half-second gap, and the one gc of
// the grace landing in the gap. It finds the lease vacant once, which is
// not enough: the lease stays, and the next acquire is handed another
// alias (contract: Words, stale).
func TestShortGapKeepsAlias(t *testing.T) {
	_, env, p := dockerEnv(t)
	const grace = 8 * time.Second
	g := grace.String()
	began := time.Now()
	wantAlias(t, env, "r", p.at(0), "--grace", g)
	c := start(t, container{name: "gap-r", alias: p.at(0), port: 18120, slug: "r"})
	time.Sleep(time.Until(began.Add(500 * time.Millisecond)))
	if out := mustCLI(t, env, "gc", "--grace", g); out != "" {
		t.Fatalf("gc with the bundle up printed %q, want nothing", out)
	}
	time.Sleep(time.Until(began.Add(grace - 200*time.Millisecond)))
	remove(t, c) // the gap begins
	if out := mustCLI(t, env, "gc", "--grace", g); out != "" {
		t.Errorf("gc in a gap, a grace after the acquire, printed %q; want nothing: one vacant observation is not enough", out)
	}
	start(t, container{name: "gap-r2", alias: p.at(0), port: 18120, slug: "r"}) // the gap ends
	if out := mustCLI(t, env, "gc", "--grace", g); out != "" {
		t.Errorf("gc after the bundle came back printed %q, want nothing", out)
	}
	wantAlias(t, env, "y", p.at(1), "--grace", g)
	if r := listJSON(t, env)[p.at(0)]; r.Slug == nil || *r.Slug != "r" || r.State != "live" {
		t.Errorf("list row of %s = %+v, want r, live", p.at(0), r)
	}
}

// TestTwoGapsAGraceApart: two gaps of a re-created bundle a grace apart,
// each caught by one gc (and no gc between them): two vacant
// observations, not three, so the lease stays. The rule "vacant once a
// grace after another vacant observation" would reclaim it.
func TestTwoGapsAGraceApart(t *testing.T) {
	_, env, p := dockerEnv(t)
	const grace = 5 * time.Second
	g := grace.String()
	wantAlias(t, env, "r", p.at(0), "--grace", g)
	c := start(t, container{name: "gaps-r", alias: p.at(0), port: 18121, slug: "r"})
	if out := mustCLI(t, env, "gc", "--grace", g); out != "" {
		t.Fatalf("gc with the bundle up printed %q, want nothing", out)
	}
	first := time.Now()
	for i, name := range []string{"gaps-r2", "gaps-r3"} {
		time.Sleep(time.Until(first.Add(time.Duration(i) * (grace + grace/5))))
		remove(t, c)
		if out := mustCLI(t, env, "gc", "--grace", g); out != "" {
			t.Errorf("gc in gap %d printed %q, want nothing: only %d vacant observations", i+1, out, i+1)
		}
		c = start(t, container{name: name, alias: p.at(0), port: 18121, slug: "r"})
	}
	if r := listJSON(t, env)[p.at(0)]; r.Slug == nil || *r.Slug != "r" {
		t.Errorf("list row of %s = %+v, want r's lease kept", p.at(0), r)
	}
}

// TestWallClockStepReclaimsNothingEarly: gc with the wall clock stepped
// two hours forward (NTP, a laptop waking) makes a lease's renewal look
// old, but its vacancy is measured on the boot-time clock: three vacant
// observations within a second reclaim nothing. With the boot-time clock
// moved past the grace as well, the next gc reclaims it, so the seam is
// real (the crash build's clock steps, see lease/crash_on.go).
func TestWallClockStepReclaimsNothingEarly(t *testing.T) {
	p := hostPool(t, 4)
	env := []string{"ALIASLEASE_DOCKER=off", "ALIASLEASE_DB=" + t.TempDir() + "/leases.db", "ALIASLEASE_POOL=" + p.spec()}
	mustCLI(t, env, "acquire", "--no-ifup", "r")
	stepped := append(env, "ALIASLEASE_TEST_WALL_STEP=2h")
	for i := range 4 {
		r := runBin(t, crashBin, stepped, "gc", "--grace", "10s")
		if r.code != 0 || r.stdout != "" {
			t.Errorf("gc %d with the wall clock 2h ahead: %v; want nothing reclaimed", i+1, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r := runBin(t, crashBin, append(stepped, "ALIASLEASE_TEST_BOOT_STEP=11s"), "gc", "--grace", "10s")
	if want := "r " + p.at(0) + " no-holder"; r.code != 0 || strings.TrimSpace(r.stdout) != want {
		t.Errorf("gc with the boot-time clock past the grace too: %v; want %q", r, want)
	}
}
