package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needTrees skips where run's process trees cannot be watched (/proc).
func needTrees(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
}

// background is a CMD whose listener runs in the background, a child of
// the shell that waits for it.
const background = `"$L" & wait`

// TestRunTreeSignalled (a): SIGTERM to the wrapper ends the whole tree,
// the background listener included: run exits 143, nothing answers on
// the alias, the lease and the cgroup are gone.
func TestRunTreeSignalled(t *testing.T) {
	needTrees(t)
	for _, nobody := range []bool{false, true} {
		t.Run(map[bool]string{false: "root", true: "nobody"}[nobody], func(t *testing.T) {
			e := newRunEnv(t, nobody)
			slug := e.slug("term")
			tr := e.start(t, nil, slug, background, 1, 1)
			reachable(t, tr.ready[0].addr)
			tr.p.signal(t, syscall.SIGTERM)
			if r, _ := tr.p.wait(t, 5*time.Second); r.code != 143 {
				t.Errorf("run after SIGTERM: %v, want exit 143", r)
			}
			waitGone(t, tr.ready[0].pid, 2*time.Second)
			unreachable(t, tr.ready[0].addr)
			if rw := e.row(t, slug); rw != nil {
				t.Errorf("list after the run ended shows %+v, want no lease", *rw)
			}
			noGroups(t, slug)
		})
	}
}

// idle is a CMD whose background process listens on nothing: only its
// tree can keep the lease (a listener on the alias is a holder anyway).
const idle = `"$L" -idle & wait`

// TestRunTreeOutlivesKilledWrapper (b, c): after SIGKILL to the wrapper,
// what is left of its tree keeps the lease: gc --grace 0s reclaims
// nothing while a background process, or a double-forked setsid daemon,
// still runs, and reclaims the lease once it has ended.
func TestRunTreeOutlivesKilledWrapper(t *testing.T) {
	needTrees(t)
	if !isRoot() {
		t.Skip("a cgroup of its own needs root (or a delegated subtree)")
	}
	for _, c := range []struct{ name, script string }{
		{"background", idle},
		{"setsid daemon", daemon},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newRunEnv(t, false)
			slug := e.slug("kill")
			tr := e.start(t, nil, slug, c.script, 1, 1)
			tr.p.signal(t, syscall.SIGKILL)
			tr.p.result()
			time.Sleep(200 * time.Millisecond) // the shell's parent-death signal
			if !alive(tr.ready[0].pid) {
				t.Fatalf("the tree's process %d died with the wrapper", tr.ready[0].pid)
			}
			if out := e.gc(t); out != "" {
				t.Errorf("gc --grace 0s with the tree's process running printed %q, want nothing", out)
			}
			if rw := e.row(t, slug); rw == nil || rw.State != "live" || rw.trees() != 1 || len(rw.Holders) != 1 {
				t.Errorf("list with the tree's process running: %+v, want %s live, held by its tree alone", rw, slug)
			}
			syscall.Kill(tr.ready[0].pid, syscall.SIGKILL)
			waitGone(t, tr.ready[0].pid, 5*time.Second)
			e.wantStale(t, slug)
			noGroups(t, slug)
		})
	}
}

// TestRunTwoRunsOfOneSlug (d): two runs of one slug share its lease; the
// first to end leaves it to the other, whichever made it, and it goes
// when the last one ends.
func TestRunTwoRunsOfOneSlug(t *testing.T) {
	needTrees(t)
	for _, shorterFirst := range []bool{true, false} {
		t.Run(map[bool]string{true: "the maker ends first", false: "the joiner ends first"}[shorterFirst], func(t *testing.T) {
			e := newRunEnv(t, false)
			slug := e.slug("two")
			first := e.start(t, nil, slug, idle, 1, 1)
			second := e.start(t, nil, slug, idle, 1, 2)
			short, long := second, first
			if shorterFirst {
				short, long = first, second
			}
			short.p.signal(t, syscall.SIGTERM)
			short.p.wait(t, 5*time.Second)
			rw := e.row(t, slug)
			if rw == nil || rw.trees() != 1 || rw.State != "live" {
				t.Fatalf("list after the shorter run ended: %+v, want %s live, held by the other run", rw, slug)
			}
			if out := e.gc(t); out != "" {
				t.Errorf("gc --grace 0s with one run left printed %q, want nothing", out)
			}
			long.p.signal(t, syscall.SIGTERM)
			long.p.wait(t, 5*time.Second)
			if rw := e.row(t, slug); rw != nil {
				t.Errorf("list after both runs ended: %+v, want no lease", *rw)
			}
			noGroups(t, slug)
		})
	}
}

// TestRunKeepsAcquired (e): a lease the slug had before run is renewed
// and kept when run ends; --keep keeps a new one.
func TestRunKeepsAcquired(t *testing.T) {
	needTrees(t)
	e := newRunEnv(t, false)
	slug := e.slug("kept")
	if r := e.cli(t, "acquire", "--no-ifup", slug); r.code != 0 {
		t.Fatalf("acquire: %v", r)
	}
	if r := e.cli(t, "run", "--no-ifup", slug, "--", "true"); r.code != 0 {
		t.Fatalf("run of an acquired slug: %v", r)
	}
	if rw := e.row(t, slug); rw == nil {
		t.Errorf("run released the lease %s had before it", slug)
	}
	e.cli(t, "release", slug)
	if r := e.cli(t, "run", "--no-ifup", "--keep", slug, "--", "true"); r.code != 0 {
		t.Fatalf("run --keep: %v", r)
	}
	if rw := e.row(t, slug); rw == nil {
		t.Errorf("run --keep released the lease it made")
	}
	noGroups(t, slug)
}

// TestReleaseDuringRun (f): release refuses a lease a run's tree holds,
// naming it, and changes nothing; release --force ends the tree, then
// releases.
func TestReleaseDuringRun(t *testing.T) {
	needTrees(t)
	e := newRunEnv(t, false)
	slug := e.slug("rel")
	tr := e.start(t, nil, slug, background, 1, 1)
	r := e.cli(t, "release", slug)
	if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "held by a running process tree") {
		t.Errorf("release during the run: %v, want exit 2 naming the tree, nothing on stdout", r)
	}
	reachable(t, tr.ready[0].addr)
	if rw := e.row(t, slug); rw == nil || rw.trees() != 1 {
		t.Fatalf("list after the refused release: %+v, want the lease held", rw)
	}
	r = e.cli(t, "release", "--force", "--kill-after", "2s", slug)
	if r.code != 0 || r.stdout != e.pool.at(0)+"\n" {
		t.Errorf("release --force: %v, want exit 0 and %s", r, e.pool.at(0))
	}
	if alive(tr.ready[0].pid) {
		t.Errorf("the run's listener %d still runs after release --force", tr.ready[0].pid)
	}
	unreachable(t, tr.ready[0].addr)
	if res, _ := tr.p.wait(t, 5*time.Second); res.code != 143 {
		t.Errorf("run whose tree release --force ended: %v, want 143", res)
	}
	if rw := e.row(t, slug); rw != nil {
		t.Errorf("list after release --force: %+v, want no lease", *rw)
	}
	noGroups(t, slug)
}

// TestReleaseManyFirstFailure: release SLUG... releases each in turn and
// goes on past a failure (a lease a run's tree holds: exit 2, kept), and
// its exit status is the first failure's (#27).
func TestReleaseManyFirstFailure(t *testing.T) {
	needTrees(t)
	e := newRunEnv(t, false)
	held, free := e.slug("held"), e.slug("free")
	e.start(t, nil, held, background, 1, 1)
	if r := e.cli(t, "acquire", "--no-ifup", free); r.code != 0 || r.stdout != e.pool.at(1)+"\n" {
		t.Fatalf("acquire(%q): %v, want %s", free, r, e.pool.at(1))
	}
	r := e.cli(t, "release", held, free)
	if r.code != 2 || r.stdout != e.pool.at(1)+"\n" || !strings.Contains(r.stderr, "held by a running process tree") {
		t.Errorf("release %s %s: %v, want exit 2 for the held one and %s freed", held, free, r, e.pool.at(1))
	}
	if rw := e.row(t, held); rw == nil || rw.trees() != 1 {
		t.Errorf("list after the refused release: %+v, want %s held", rw, held)
	}
	if rw := e.row(t, free); rw != nil {
		t.Errorf("list after the release: %+v, want no lease of %s", *rw, free)
	}
	// --json: stdout carries only what was done, in order: the refused
	// SLUG has no object (its error is on stderr), the one without a lease
	// says so.
	if r := e.cli(t, "acquire", "--no-ifup", free); r.code != 0 {
		t.Fatalf("acquire(%q) again: %v", free, r)
	}
	r = e.cli(t, "release", "--json", held, free, "none")
	var objs []struct {
		Slug     string `json:"slug"`
		Released bool   `json:"released"`
		Reason   string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &objs); err != nil || r.code != 2 || !strings.Contains(r.stderr, "held by a running process tree") {
		t.Fatalf("release --json %s %s none: %v (%v), want exit 2, the refusal on stderr and an array", held, free, r, err)
	}
	type obj struct {
		slug     string
		released bool
		reason   string
	}
	var got []obj
	for _, o := range objs {
		got = append(got, obj{o.Slug, o.Released, o.Reason})
	}
	if want := []obj{{free, true, ""}, {"none", false, "no-lease"}}; !slices.Equal(got, want) {
		t.Errorf("release --json %s %s none = %+v, want %+v", held, free, got, want)
	}
	if r := e.cli(t, "release", "--force", "--kill-after", "2s", held); r.code != 0 {
		t.Errorf("release --force %s: %v", held, r)
	}
	noGroups(t, held)
}

// TestRunKillAfter (g): a trap that takes 2 s after SIGTERM finishes
// under --kill-after 5s, and is killed under --kill-after 1s.
func TestRunKillAfter(t *testing.T) {
	needTrees(t)
	for _, c := range []struct {
		killAfter string
		finishes  bool
		code      int
	}{
		{"5s", true, 0},
		{"1s", false, 137},
	} {
		t.Run(c.killAfter, func(t *testing.T) {
			e := newRunEnv(t, false)
			slug := e.slug("trap")
			done := filepath.Join(t.TempDir(), "done")
			// The trap's sleep ignores SIGTERM, as it inherits the trap's
			// ignoring it: only --kill-after can end it early.
			script := `trap 'trap "" TERM; sleep 2; echo done >` + done + `; exit 0' TERM; "$L" & wait`
			tr := e.start(t, []string{"--kill-after", c.killAfter}, slug, script, 1, 1)
			tr.p.signal(t, syscall.SIGTERM)
			r, took := tr.p.wait(t, 10*time.Second)
			_, err := os.Stat(done)
			if finished := err == nil; finished != c.finishes || r.code != c.code {
				t.Errorf("run --kill-after %s after SIGTERM: %v after %v, trap finished %v; want exit %d, finished %v",
					c.killAfter, r, took.Round(time.Millisecond), finished, c.code, c.finishes)
			}
			if rw := e.row(t, slug); rw != nil {
				t.Errorf("list after the run: %+v, want no lease", *rw)
			}
			noGroups(t, slug)
		})
	}
}

// TestRunExitCodes (h): run exits 125 for its own failure before CMD
// started (here the pool is exhausted), 126 when CMD cannot be executed,
// 127 when it is not found, and CMD's own status otherwise, a signal
// that CMD handles included.
func TestRunExitCodes(t *testing.T) {
	needTrees(t)
	e := newRunEnv(t, false)
	full := e.pool.at(0) + "/32"
	if r := e.cli(t, "--pool", full, "acquire", "--no-ifup", e.slug("other")); r.code != 0 {
		t.Fatalf("acquire: %v", r)
	}
	for _, c := range []struct {
		name   string
		args   []string
		signal bool
		code   int
		stderr string
	}{
		{"pool exhausted", []string{"--pool", full, "run", "--no-ifup", e.slug("x"), "--", "true"}, false, 125, "pool exhausted"},
		{"not executable", []string{"run", "--no-ifup", e.slug("x"), "--", "/etc/passwd"}, false, 126, "permission denied"},
		{"not found", []string{"run", "--no-ifup", e.slug("x"), "--", "/nonexistent/program"}, false, 127, "no such file"},
		{"its status", []string{"run", "--no-ifup", e.slug("x"), "--", "sh", "-c", "exit 7"}, false, 7, ""},
		{"a handled signal", []string{"run", "--no-ifup", e.slug("x"), "--", "sh", "-c", `trap "exit 3" TERM; echo ready; sleep 600 & wait`}, true, 3, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := e.command(c.args...)
			out, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			cmd.Stdout = w
			p := startProc(t, cmd)
			w.Close()
			if c.signal {
				buf := make([]byte, 6)
				if n, _ := out.Read(buf); string(buf[:n]) != "ready\n" {
					t.Fatalf("the command printed %q, want ready", buf[:n])
				}
				e.waitTrees(t, e.slug("x"), 1)
				p.signal(t, syscall.SIGTERM)
			}
			r, _ := p.wait(t, 10*time.Second)
			if r.code != c.code || !strings.Contains(strings.ToLower(r.stderr), c.stderr) {
				t.Errorf("aliaslease %s: %v, want exit %d, stderr with %q", strings.Join(c.args, " "), r, c.code, c.stderr)
			}
			if rw := e.row(t, e.slug("x")); rw != nil {
				t.Errorf("list after the run: %+v, want no lease of %s", *rw, e.slug("x"))
			}
			noGroups(t, e.slug("x"))
		})
	}
}
