package test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aliaslease/aliaslease/lease"
)

// olderRelease is the last commit of schema 2 before the vacancy rule:
// the binary a host's cron job may still run after its launcher was
// upgraded.
const olderRelease = "da5957a03ae9e731adfa9a485d323e136c18eb60"

// buildOlder builds aliaslease as it was at olderRelease, from this
// checkout's history. CI runs on a clone of main, which has it; anywhere
// else without it the test is skipped.
func buildOlder(t *testing.T) string {
	t.Helper()
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err == nil {
		err = exec.Command("git", "-C", strings.TrimSpace(string(root)), "cat-file", "-e", olderRelease+"^{commit}").Run()
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("commit %s is not in this checkout's history: %v", olderRelease, err)
		}
		t.Skipf("commit %s is not in this checkout's history (a shallow clone?): %v", olderRelease, err)
	}
	src := t.TempDir()
	archive := exec.Command("sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", strings.TrimSpace(string(root)), olderRelease, src)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", olderRelease, err, out)
	}
	exe := filepath.Join(t.TempDir(), "aliaslease-older")
	build := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-o", exe, "./cmd/aliaslease")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building aliaslease at %s: %v\n%s", olderRelease, err, out)
	}
	return exe
}

// TestOlderBinaryShares: an older binary of the same schema (the cron job
// nobody upgraded) and this one share a database both ways (contract:
// Storage, forward-compatible records): the older one reads, renews and
// releases leases this one wrote beside its vacancy records, and this one
// reads what the older one wrote; a renewal by the older one voids the
// vacancy this one counted, and every file stays consistent for both.
func TestOlderBinaryShares(t *testing.T) {
	older := buildOlder(t)
	p := hostPool(t, 8)
	db := filepath.Join(t.TempDir(), "leases.db")
	env := []string{"ALIASLEASE_DOCKER=off", "ALIASLEASE_DB=" + db, "ALIASLEASE_POOL=" + p.spec()}
	run := func(exe string, args ...string) string {
		t.Helper()
		r := runBin(t, exe, env, args...)
		if r.code != 0 {
			t.Fatalf("%s %s: %v", filepath.Base(exe), strings.Join(args, " "), r)
		}
		return strings.TrimSpace(r.stdout)
	}
	m := &lease.Manager{Path: db, Pool: lease.MustParsePool(p.spec())}
	vacancy := func(slug string) int {
		t.Helper()
		st, err := m.CheckDatabase(context.Background())
		if err != nil {
			t.Fatalf("CheckDatabase after the other binary wrote: %v", err)
		}
		for _, l := range st.Leases {
			if l.Slug == slug {
				return l.Vacancy.Observations
			}
		}
		t.Fatalf("no lease of %s", slug)
		return 0
	}

	// This binary writes leases and vacancies; the older one reads, renews, releases.
	run(bin, "acquire", "--no-ifup", "a")
	b := run(bin, "acquire", "--no-ifup", "b")
	run(bin, "gc", "--grace", "1h")
	if n := vacancy("a"); n != 1 {
		t.Fatalf("vacancy of a after one gc = %d observations, want 1", n)
	}
	if out := run(older, "list"); !strings.Contains(out, "a ") || !strings.Contains(out, "b ") {
		t.Errorf("older list = %q, want both leases", out)
	}
	if got := run(older, "acquire", "--no-ifup", "a"); got != p.at(0) {
		t.Errorf("older acquire(a) = %s, want the renewal of %s", got, p.at(0))
	}
	if got := run(older, "release", "b"); got != b {
		t.Errorf("older release(b) = %s, want %s", got, b)
	}
	if n := vacancy("a"); n != 0 {
		t.Errorf("vacancy of a after the older binary renewed it = %d observations, want 0 (void)", n)
	}
	if got := run(bin, "acquire", "--no-ifup", "c"); got != b {
		t.Errorf("acquire(c) after the older binary released b = %s, want %s", got, b)
	}

	// The older one writes beside this one's vacancy bucket; this one reads.
	d := run(older, "acquire", "--no-ifup", "d")
	run(bin, "gc", "--grace", "1h")
	run(older, "list")
	if got := run(bin, "acquire", "--no-ifup", "d"); got != d {
		t.Errorf("acquire(d), written by the older binary = %s, want the renewal of %s", got, d)
	}
	run(bin, "release", "d")
	if out := run(older, "list"); strings.Contains(out, "d ") || !strings.Contains(out, "c ") {
		t.Errorf("older list after this one released d = %q, want c and no d", out)
	}
	run(older, "acquire", "--no-ifup", "e")
	vacancy("e") // consistent for this binary's full check
}
