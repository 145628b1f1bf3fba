package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// verify of a live run --confine, with no PREFIX, runs its probe inside
// that confinement (the run's cgroup, as its user): isolated, exit 0,
// its own alias reached and nothing else, and list's isolation column
// says so. Once the run has ended, the same verify runs the probe as a
// plain host process again: leaky.
func TestVerifyRunConfine(t *testing.T) {
	e := newConfineEnv(t)
	e.acquire(t, "other")
	cr := e.start(t, nil, "own", `"$R" main id; exec sleep 60`)
	got := cr.results(t, []string{key("main", "id")}, 30*time.Second)
	dir, id := e.cgroupOf(t, got[key("main", "id")])
	e.waitConfinedHolder(t, "own")
	v, r := e.verify(t, "own")
	if v.Verdict != "isolated" || r.code != 0 || !slices.Equal(v.reached(), []string{"own alias"}) {
		t.Errorf("verify own under run --confine = %q (exit %d) reaching %v, want isolated (exit 0) reaching only its own alias; probe said %v; stderr %q",
			v.Verdict, r.code, v.reached(), v.Probe.Output, r.stderr)
	}
	if len(v.Canaries) < 4 {
		t.Errorf("verify opened %d canaries, want at least its own alias, another, 127.0.0.1 and ::1", len(v.Canaries))
	}
	// "verified", or "confined" where list says the confinement first;
	// never what a leak or a silent probe gives.
	if iso := listIsolation(t, e.env, "own"); iso != "verified" && iso != "confined" {
		t.Errorf("list: own's isolation %q after an isolated verify, want verified (or confined)", iso)
	}
	cr.end(t)
	noTrace(t, dir, id)
	if v, _ := e.verify(t, "other"); v.Verdict != "leaky" {
		t.Errorf("verify of an unconfined lease = %q, want leaky (its probe a host process)", v.Verdict)
	}
}

// waitConfinedHolder waits until list shows slug held by a confined run.
func (e *confineEnv) waitConfinedHolder(t *testing.T, slug string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(e.cli(t, "list", "--format", "{{.Slug}} {{.Holders}}").stdout, slug+" confined cgroup ") {
			return
		}
	}
	t.Fatalf("list never showed %s held by a confined cgroup: %s", slug, e.cli(t, "list").stdout)
}

// verify runs verify --json SLUG with e's binary (which the probe, run as
// the confined user, must be able to execute).
func (e *confineEnv) verify(t *testing.T, slug string) (verifyJSON, result) {
	t.Helper()
	r := e.cli(t, "verify", "--json", slug)
	var v verifyJSON
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("verify --json %s: %v; not JSON: %v", slug, r, err)
	}
	return v, r
}

// verify of a lease that confine --cgroup confined, with no PREFIX, runs
// its probe inside that cgroup too (a cgroup outside aliaslease's
// subtree, named by its path): isolated, exit 0, only its own alias
// reached. Once the confinement is lifted, the same verify is leaky.
func TestVerifyConfineCgroup(t *testing.T) {
	e := newConfineEnv(t)
	e.acquire(t, "other")
	e.acquire(t, "own")
	dir, rel := foreignCgroup(t)
	c := confineCLI(t, e.env, "own", "--cgroup", rel)
	startClient(t, dir) // populated: a cgroup that holds the lease
	v, r := e.verify(t, "own")
	if v.Verdict != "isolated" || r.code != 0 || !slices.Equal(v.reached(), []string{"own alias"}) {
		t.Errorf("verify own under confine --cgroup %s = %q (exit %d) reaching %v, want isolated (exit 0) reaching only its own alias; probe said %v; stderr %q",
			rel, v.Verdict, r.code, v.reached(), v.Probe.Output, r.stderr)
	}
	if r := e.cli(t, "confine", "--release", "own"); r.code != 0 || present(t, c.CgroupID) {
		t.Fatalf("confine --release own: %v, rules present %v; want them lifted", r, present(t, c.CgroupID))
	}
	if v, _ := e.verify(t, "own"); v.Verdict != "leaky" {
		t.Errorf("verify own after confine --release = %q, want leaky (its probe a host process)", v.Verdict)
	}
}

// verify with no PREFIX, by a binary the confined user cannot execute
// (one in root's own 0700 directory, where go install puts it for root):
// cut-off, exit 9, and the one error line says why and what to do.
func TestVerifyProbeNotExecutable(t *testing.T) {
	e := newConfineEnv(t)
	cr := e.start(t, nil, "own", `"$R" main id; exec sleep 60`)
	cr.results(t, []string{key("main", "id")}, 30*time.Second)
	e.waitConfinedHolder(t, "own")
	dir := filepath.Join(t.TempDir(), "private")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(e.bin)
	if err != nil {
		t.Fatal(err)
	}
	private := filepath.Join(dir, "aliaslease")
	if err := os.WriteFile(private, b, 0o755); err != nil {
		t.Fatal(err)
	}
	r := runBin(t, private, e.env, "verify", "own")
	if r.code != 9 || !strings.Contains(r.stderr, "(cut-off): the probe did not run") ||
		!strings.Contains(r.stderr, "must be able to execute it") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("verify own by %s, which the confined user cannot execute: %v, want exit 9 and one error line saying the tree's user must be able to execute it", private, r)
	}
	cr.end(t)
}
