package test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSharePlaceChangedByRoot: a place whose owner, group or mode root
// changed after share is refused (exit 8) by every user, also one it
// now keeps out, and a release refused so writes nothing: before, a member kept out of a place of group root took
// it for a group it is not in and went on without it, so that its
// leases were claimed nowhere and another member was handed their
// aliases.
func TestSharePlaceChangedByRoot(t *testing.T) {
	e := newShareEnv(t)
	if r := e.share(t); r.code != 0 {
		t.Fatalf("share = %v", r)
	}
	kept := e.acquire(t, e.u1, "r")
	for _, tc := range []struct {
		name   string
		change func() error
		says   string
	}{
		{"group root", func() error { return os.Chown(e.shared, 0, 0) }, "belongs to group root"},
		{"a member's, mode 0700", func() error {
			if err := os.Chown(e.shared, int(e.u1.uid), int(e.gid)); err != nil {
				return err
			}
			return os.Chmod(e.shared, 0o700)
		}, fmt.Sprintf("is owned by uid %d, not root", e.u1.uid)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.change(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				os.Chown(e.shared, 0, int(e.gid))
				os.Chmod(e.shared, os.ModeSetgid|os.ModeSticky|0o770)
			}()
			for _, u := range []*shareUser{e.u2, e.outsider} {
				if r := e.cli(t, u, nil, "acquire", "--no-ifup", "a"); r.code != 8 || !strings.Contains(r.stderr, tc.says) {
					t.Errorf("acquire as %s with a shared place of %s = %v, want exit 8 saying %q", u.name, tc.name, r, tc.says)
				}
				if r := e.cli(t, u, nil, "doctor"); r.code != 10 || !strings.Contains(r.stdout, "- shared: shared place "+e.shared+" "+tc.says) {
					t.Errorf("doctor as %s with a shared place of %s = %v, want exit 10 naming the place %s", u.name, tc.name, r, tc.says)
				}
			}
			// Refused before anything is written: the lease stays.
			if r := e.cli(t, e.u1, nil, "release", "r"); r.code != 8 {
				t.Errorf("release r as %s with a shared place of %s = %v, want exit 8", e.u1.name, tc.name, r)
			}
			if r := e.cli(t, e.u1, nil, "list"); !strings.Contains(r.stdout, kept) {
				t.Errorf("list as %s after a refused release = %v, want r on %s kept", e.u1.name, r, kept)
			}
		})
	}
	if a := e.acquire(t, e.u2, "a"); a == "" {
		t.Fatalf("acquire as %s once the place is restored: no alias", e.u2.name)
	}
}

// TestShareHandWrittenClaimBesideARun: a member's claim written by hand,
// with a later sequence, on the alias of another member's running bottle
// neither makes that user's acquire give the lease up nor, once removed,
// lets the member be handed the alias under the bottle. Before, the
// acquire reclaimed the lease under the run's live tree
// ("claimed-elsewhere"), and the next acquire anywhere was given its alias.
func TestShareHandWrittenClaimBesideARun(t *testing.T) {
	e := newShareEnv(t)
	if r := e.share(t); r.code != 0 {
		t.Fatalf("share = %v", r)
	}
	ready := e.u1.home + "/ready"
	p := startProc(t, e.command(e.u1, e.bin, nil, "run", "--no-ifup", "bot", "--", "sh", "-c", `echo "$ALIASLEASE_ALIAS" > "$1"; sleep 30`, "sh", ready))
	alias := ""
	for i := 0; i < 200 && alias == ""; i++ {
		b, _ := os.ReadFile(ready)
		alias = strings.TrimSpace(string(b))
		time.Sleep(10 * time.Millisecond)
	}
	if alias == "" {
		t.Fatalf("run bot as %s never started its command", e.u1.name)
	}
	forged := e.claimPath(e.u2, alias)
	body := fmt.Sprintf("aliaslease-claim 1\nalias %s\nuid %d\ndb %q\nslug q\ngeneration 1\nseq 99\nrenewed 1\nheld 0\ngrace 0\n", alias, e.u2.uid, e.u2.home+"/other.db")
	if err := e.asUser(t, e.u2, "sh", "-c", `printf '%s' "$1" > "$2"`, "sh", body, forged); err != nil {
		t.Fatalf("writing %s as %s: %v", forged, e.u2.name, err)
	}
	if a := e.acquire(t, e.u1, "bot"); a != alias {
		t.Fatalf("acquire bot as %s while its run holds %s, beside a later claim = %s, want %s kept", e.u1.name, alias, a, alias)
	}
	if err := e.asUser(t, e.u2, "rm", forged); err != nil {
		t.Fatal(err)
	}
	if a := e.acquire(t, e.u2, "b"); a == alias {
		t.Fatalf("acquire b as %s = %s, the alias of %s's running bottle", e.u2.name, a, e.u1.name)
	}
	if !p.running() {
		t.Fatalf("run bot ended early: %v", p.result())
	}
	p.signal(t, syscall.SIGTERM) // run passes it to its tree and releases
	p.wait(t, 10*time.Second)
}

// TestShareSupersededAcquireKilledBeforeCommit: an acquire that gives a
// lease up to another user's later claim and is killed before its commit
// leaves the lease with its claim, so that the next acquire gives it up
// again. Before, the claim was removed inside the transaction: the lease
// outlived it, and every later acquire renewed it, unclaimed, beside the
// other user's claim on the same alias.
func TestShareSupersededAcquireKilledBeforeCommit(t *testing.T) {
	e := newShareEnv(t)
	if r := e.share(t); r.code != 0 {
		t.Fatalf("share = %v", r)
	}
	r := e.cli(t, e.u1, nil, "acquire", "--no-ifup", "--grace", "0s", "s0") // its claim may be found stale at once
	alias := strings.TrimSpace(r.stdout)
	if r.code != 0 {
		t.Fatalf("acquire s0 --grace 0s as %s: %v", e.u1.name, r)
	}
	later := e.claimPath(e.u2, alias)
	body := fmt.Sprintf("aliaslease-claim 1\nalias %s\nuid %d\ndb %q\nslug q\ngeneration 1\nseq 99\nrenewed 1\nheld 0\ngrace 0\n", alias, e.u2.uid, e.u2.home+"/other.db")
	if err := e.asUser(t, e.u2, "sh", "-c", `printf '%s' "$1" > "$2"`, "sh", body, later); err != nil {
		t.Fatalf("writing %s as %s: %v", later, e.u2.name, err)
	}
	if r := finish(t, e.command(e.u1, e.crash, []string{"ALIASLEASE_CRASH=before-commit"}, "acquire", "--no-ifup", "s0")); !r.signaled() {
		t.Fatalf("acquire s0 killed before its commit: %v, want killed", r)
	}
	if _, err := os.Lstat(e.claimPath(e.u1, alias)); err != nil {
		t.Fatalf("%s's claim of %s after an acquire killed before its commit: %v, want it kept", e.u1.name, alias, err)
	}
	if a := e.acquire(t, e.u1, "s0"); a == alias {
		t.Fatalf("acquire s0 as %s beside %s's later claim of %s = %s, want another alias", e.u1.name, e.u2.name, alias, a)
	}
}

// TestShareClaimLeftAfterReleaseWarns: a release whose claim cannot be
// removed after its commit (immutable: not even root removes it) exits 0
// with a warning, the lease gone, and a later acquire removes the claim
// once it can. Before, it failed (exit 1) as if nothing had changed,
// though the lease was released.
func TestShareClaimLeftAfterReleaseWarns(t *testing.T) {
	e := newShareEnv(t)
	if r := e.share(t); r.code != 0 {
		t.Fatalf("share = %v", r)
	}
	alias := e.acquire(t, e.u1, "r")
	e.acquire(t, e.u1, "s") // on another alias, renewed below
	claim := e.claimPath(e.u1, alias)
	sh(t, "chattr", "+i", claim)
	t.Cleanup(func() { exec.Command("chattr", "-i", claim).Run() })
	r := e.cli(t, e.u1, nil, "release", "r")
	if r.code != 0 || strings.TrimSpace(r.stdout) != alias || !strings.HasPrefix(r.stderr, "aliaslease: warning: done, but a claim was left in the shared place: ") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("release r as %s with its claim immutable = %v, want exit 0, %s, and one warning", e.u1.name, r, alias)
	}
	if r := e.cli(t, e.u1, nil, "list"); strings.Contains(r.stdout, alias) {
		t.Fatalf("list as %s after the release = %v, want r gone", e.u1.name, r)
	}
	sh(t, "chattr", "-i", claim)
	e.acquire(t, e.u1, "s")
	if _, err := os.Lstat(claim); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("r's claim after an acquire that could remove it: %v, want it gone", err)
	}
}
