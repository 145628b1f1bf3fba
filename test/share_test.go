package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// asUser runs a system command as u, for what a user does by hand.
func (e *shareEnv) asUser(t *testing.T, u *shareUser, name string, args ...string) error {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: u.groups}}
	return cmd.Run()
}

// share runs aliaslease share as root.
func (e *shareEnv) share(t *testing.T) result {
	t.Helper()
	return e.cli(t, nil, nil, "share", "--group", e.group, "--boot-config", e.base+"/tmpfiles.conf")
}

func TestShareRefusesASquattedPlace(t *testing.T) {
	e := newShareEnv(t)
	for _, tc := range []struct {
		name  string
		by    *shareUser
		plant [][]string
	}{
		{"by a user outside the group", e.outsider, [][]string{{"mkdir", "-m", "0777", e.shared}}},
		{"by a member, with the group and mode share gives", e.u1, [][]string{{"mkdir", e.shared}, {"chgrp", e.group, e.shared}, {"chmod", "3770", e.shared}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer os.RemoveAll(e.shared)
			for _, c := range tc.plant {
				if err := e.asUser(t, tc.by, c[0], c[1:]...); err != nil {
					t.Fatalf("%v as %s: %v", c, tc.by.name, err)
				}
			}
			before, _ := os.Lstat(e.shared)
			if r := e.share(t); r.code != 8 {
				t.Fatalf("share over a place %s = %v, want exit 8", tc.name, r)
			}
			if r := e.cli(t, e.u2, nil, "acquire", "--no-ifup", "a"); r.code != 8 || !strings.Contains(r.stderr, "not root") {
				t.Fatalf("acquire with a place %s = %v, want exit 8 naming its owner", tc.name, r)
			}
			after, _ := os.Lstat(e.shared)
			if !os.SameFile(before, after) || after.Mode() != before.Mode() {
				t.Fatalf("the squatted place changed: %v, was %v", after.Mode(), before.Mode())
			}
		})
	}
	if r := e.share(t); r.code != 0 {
		t.Fatalf("share = %v, want exit 0", r)
	}
	st, _ := os.Lstat(e.shared)
	sys := st.Sys().(*syscall.Stat_t)
	if sys.Uid != 0 || sys.Gid != e.gid || st.Mode() != os.ModeDir|os.ModeSetgid|os.ModeSticky|0o770 {
		t.Fatalf("shared place: uid %d gid %d mode %v, want root, %d, dgtrwxrwx---", sys.Uid, sys.Gid, st.Mode(), e.gid)
	}
	conf := string(readFile(t, e.base+"/tmpfiles.conf"))
	if want := fmt.Sprintf("d %s 3770 root %s -\n", e.shared, e.group); !strings.Contains(conf, want) {
		t.Fatalf("boot configuration %q lacks %q", conf, want)
	}
}

// acquireAll runs acquire of each slug as u, all at once, and returns
// the aliases by slug.
func (e *shareEnv) acquireAll(t *testing.T, users []*shareUser, slugs []string) map[string]string {
	t.Helper()
	var mu sync.Mutex
	got := map[string]string{}
	var wg sync.WaitGroup
	for _, u := range users {
		for _, s := range slugs {
			p := startProc(t, e.command(u, e.bin, nil, "acquire", "--no-ifup", s))
			wg.Go(func() {
				r := p.result()
				mu.Lock()
				defer mu.Unlock()
				if r.code != 0 {
					t.Errorf("acquire %s as %s: %v", s, u.name, r)
				}
				got[u.name+"/"+s] = strings.TrimSpace(r.stdout)
			})
		}
	}
	wg.Wait()
	return got
}

func TestShareSeveralUsers(t *testing.T) {
	e := newShareEnv(t)
	if r := e.share(t); r.code != 0 {
		t.Fatalf("share = %v", r)
	}
	var slugs []string
	for i := range 16 {
		slugs = append(slugs, "b"+strconv.Itoa(i))
	}
	got := e.acquireAll(t, []*shareUser{e.u1, e.u2}, slugs)
	by := map[string]string{}
	for who, a := range got {
		if other, dup := by[a]; dup {
			t.Errorf("%s and %s were both given %s", who, other, a)
		}
		by[a] = who
	}
	if len(by) != 32 {
		t.Fatalf("32 acquires of two users gave %d aliases, want 32: %v", len(by), got)
	}
	// A release in one database makes the alias the other's.
	freed := got[e.u1.name+"/b0"]
	e.cli(t, e.u1, nil, "release", "b0")
	if a := e.acquire(t, e.u2, "extra"); a != freed {
		t.Fatalf("acquire extra as %s after %s released %s = %s, want it", e.u2.name, e.u1.name, freed, a)
	}
	e.killedClaims(t, got)
	e.hostileMember(t, freed)
}

// killedClaims: a claim left by a SIGKILLed acquire, without its lease,
// is reclaimed by the rules: at once by its own database, which knows it
// has no lease; by another's when the vacancy rule finds it stale.
func (e *shareEnv) killedClaims(t *testing.T, got map[string]string) {
	t.Helper()
	free := []string{got[e.u2.name+"/b1"], got[e.u2.name+"/b2"]}
	slices.SortFunc(free, func(a, b string) int { return compareAddr(a, b) })
	e.cli(t, e.u2, nil, "release", "b1")
	e.cli(t, e.u2, nil, "release", "b2")
	if r := finish(t, e.command(e.u1, e.crash, []string{"ALIASLEASE_CRASH=after-claim"}, "acquire", "--no-ifup", "k")); !r.signaled() {
		t.Fatalf("acquire k killed after its claim: %v, want killed", r)
	}
	if _, err := os.Lstat(e.claimPath(e.u1, free[0])); err != nil {
		t.Fatalf("the killed acquire's claim of %s: %v", free[0], err)
	}
	if a := e.acquire(t, e.u2, "n1"); a != free[1] {
		t.Fatalf("acquire n1 as %s beside %s's orphan claim of %s = %s, want %s", e.u2.name, e.u1.name, free[0], a, free[1])
	}
	if a := e.acquire(t, e.u1, "k"); a != free[0] {
		t.Fatalf("acquire k again as %s = %s, want %s, its own orphan claim's", e.u1.name, a, free[0])
	}
	denv, ok := dockerIfAny(t)
	if !ok {
		return // the vacancy rule needs an observation: Docker answered
	}
	e.cli(t, e.u1, nil, "release", "k")
	one := "ALIASLEASE_POOL=" + free[0] // the claim's alias alone: nothing else to pick or reclaim
	// u1's grace 0s: its claim may be judged stale at once (another's
	// --grace 0s alone does not make a claim of grace 10m stale).
	if r := finish(t, e.command(e.u1, e.crash, []string{"ALIASLEASE_CRASH=after-claim", one}, "acquire", "--no-ifup", "--grace", "0s", "k2")); !r.signaled() {
		t.Fatalf("acquire k2 killed after its claim: %v, want killed", r)
	}
	env := append([]string{"ALIASLEASE_DOCKER=on", one}, denv...)
	if r := e.cli(t, e.u2, env, "acquire", "--no-ifup", "n2"); r.code != 3 {
		t.Fatalf("acquire n2 as %s over %s's claim of %s, renewed within the grace: %v, want exit 3", e.u2.name, e.u1.name, free[0], r)
	}
	r := e.cli(t, e.u2, env, "acquire", "--no-ifup", "--grace", "0s", "n2")
	if r.code != 0 || strings.TrimSpace(r.stdout) != free[0] {
		t.Fatalf("acquire n2 --grace 0s as %s over %s's stale claim of %s: %v", e.u2.name, e.u1.name, free[0], r)
	}
	e.cli(t, e.u2, nil, "release", "n2")
}

// hostileMember: a member cannot remove another's claim (the place is
// sticky); a claim forged in another's name and a link planted at
// another's claim path keep everyone off that alias, touch nothing
// outside the place, and the health report names them.
func (e *shareEnv) hostileMember(t *testing.T, alias string) {
	t.Helper()
	mine := e.claimPath(e.u2, alias)
	if err := e.asUser(t, e.u1, "rm", "-f", mine); err == nil {
		t.Fatalf("%s removed %s's claim %s", e.u1.name, e.u2.name, mine)
	}
	if _, err := os.Lstat(mine); err != nil {
		t.Fatalf("%s's claim after another member's rm: %v", e.u2.name, err)
	}
	if r := e.cli(t, e.u1, nil, "acquire", "--no-ifup", "pad"); r.code != 0 && r.code != 3 {
		t.Fatalf("acquire pad: %v", r) // the pool full, whatever killedClaims left
	}
	e.cli(t, e.u2, nil, "release", "extra") // alias is the pool's one free alias now
	forged := e.claimPath(e.u1, alias)
	body := fmt.Sprintf("aliaslease-claim 1\nalias %s\nuid %d\ndb %q\nslug x\ngeneration 1\nseq 9\nrenewed 1\nheld 0\n", alias, e.u1.uid, e.u1.db)
	if err := e.asUser(t, e.u2, "sh", "-c", "printf '%s' \"$1\" > \"$2\"", "sh", body, forged); err != nil {
		t.Fatalf("forging %s as %s: %v", forged, e.u2.name, err)
	}
	if r := e.cli(t, e.u1, nil, "acquire", "--no-ifup", "f"); r.code != 3 {
		t.Fatalf("acquire f as %s with %s's claim forged in its name: %v, want exit 3 (no alias free)", e.u1.name, alias, r)
	}
	if r := e.cli(t, e.u1, nil, "doctor"); r.code != 10 || !strings.Contains(r.stdout, "forged") {
		t.Fatalf("doctor as %s: %v, want exit 10 naming the forged claim", e.u1.name, r)
	}
	os.Remove(forged)
	target := e.base + "/target"
	os.WriteFile(target, []byte("untouched"), 0o666)
	if err := e.asUser(t, e.u2, "ln", "-s", target, forged); err != nil {
		t.Fatal(err)
	}
	if r := e.cli(t, e.u1, nil, "acquire", "--no-ifup", "f"); r.code != 3 {
		t.Fatalf("acquire f as %s with a link planted at its claim path: %v, want exit 3", e.u1.name, r)
	}
	if b := readFile(t, target); string(b) != "untouched" {
		t.Fatalf("the planted link's target = %q, want untouched", b)
	}
	if r := e.cli(t, e.u1, nil, "doctor"); r.code != 10 || !strings.Contains(r.stdout, "symbolic link") {
		t.Fatalf("doctor as %s: %v, want exit 10 naming the link", e.u1.name, r)
	}
	if r := e.cli(t, nil, nil, "cleanup"); r.code != 0 || !strings.Contains(r.stdout, forged) {
		t.Fatalf("cleanup as root: %v, want the link removed", r)
	}
	if a := e.acquire(t, e.u1, "f"); a != alias {
		t.Fatalf("acquire f after cleanup = %s, want %s", a, alias)
	}
	e.outsiderSeesNothing(t)
}

// outsiderSeesNothing: a user outside the group can neither enter the
// place nor plant anything in it, and the health report says that other
// users' databases are not seen.
func (e *shareEnv) outsiderSeesNothing(t *testing.T) {
	t.Helper()
	if err := e.asUser(t, e.outsider, "touch", e.shared+"/x"); err == nil {
		t.Fatalf("%s, outside the group, made an entry in the shared place", e.outsider.name)
	}
	r := e.cli(t, e.outsider, nil, "doctor")
	if !strings.Contains(r.stdout, "other users' databases are not seen") {
		t.Fatalf("doctor as %s: %v, want it to say other users' databases are not seen", e.outsider.name, r)
	}
}

func TestShareAdoptionRespectsClaims(t *testing.T) {
	denv := needDocker(t)
	e := newShareEnv(t)
	if r := e.share(t); r.code != 0 {
		t.Fatalf("share = %v", r)
	}
	env := append([]string{"ALIASLEASE_DOCKER=on"}, denv...)
	w := e.acquire(t, e.u2, "web", env...)
	// The case: a stopped container of user 2's web on its alias.
	start(t, container{name: "share-web", alias: w, slug: "web", state: "created"})
	r := e.cli(t, e.u1, env, "acquire", "--no-ifup", "--json", "web")
	if r.code != 0 || strings.Contains(r.stdout, w) {
		t.Fatalf("acquire web as %s beside %s's labelled container on %s: %v, want another alias", e.u1.name, e.u2.name, w, r)
	}
}

// compareAddr orders two dotted IPv4 addresses.
func compareAddr(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range min(len(pa), len(pb)) {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x - y
		}
	}
	return len(pa) - len(pb)
}

// TestShareBadInput: share with a group it cannot use is a usage error
// (exit 2) in one line, and makes neither the place nor the boot
// configuration.
func TestShareBadInput(t *testing.T) {
	dir := t.TempDir()
	shared, conf := filepath.Join(dir, "run", "shared"), filepath.Join(dir, "tmpfiles.conf")
	env := []string{"ALIASLEASE_SHARED_DIR=" + shared, "ALIASLEASE_DB=" + filepath.Join(dir, "db", "leases.db")}
	for _, args := range [][]string{
		{"share", "--boot-config", conf},
		{"share", "--group", "aliaslease-no-such-group", "--boot-config", conf},
		{"share", "--group", "root", "--boot-config", conf},
		{"share", "--group", "root", "--boot-config", conf, "extra"},
	} {
		r := cli(t, env, args...)
		if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); r.code != 2 || r.stdout != "" || len(lines) > 2 {
			t.Errorf("aliaslease %s = %v, want exit 2, nothing on stdout, one error line (and at most a hint)", strings.Join(args, " "), r)
		}
		for _, p := range []string{filepath.Join(dir, "run"), conf, filepath.Join(dir, "db")} {
			if _, err := os.Lstat(p); !os.IsNotExist(err) {
				t.Errorf("aliaslease %s made %s (%v)", strings.Join(args, " "), p, err)
			}
		}
	}
}
