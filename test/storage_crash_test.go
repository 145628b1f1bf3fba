package test

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Crashes inside a commit. strace kills the ordinary binary (no crash
// build tag) with SIGKILL at the N-th fdatasync or fsync it makes, which
// lands inside bbolt's commit: after the data pages are written and
// before the meta page is (the first fdatasync of a commit), or after the
// meta page is written and before it is synced (the second). SIGKILL
// leaves the page cache alone, so this proves atomicity against a killed
// process, not durability against power loss (docs/reliability.md).

// needStrace skips the test when strace is missing or cannot trace here.
func needStrace(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace is not installed; the tests that kill inside a commit need it (CI installs it)")
	}
	if out, err := exec.Command("strace", "-qq", "-o", os.DevNull, "true").CombinedOutput(); err != nil {
		t.Skipf("strace cannot trace here: %v %s", err, out)
	}
}

// kill is one run of aliaslease under strace, killed at the when-th call
// of sys.
type kill struct {
	result
	landed bool // the process died of SIGKILL at that very call
}

// straceKill runs aliaslease with args under strace, which SIGKILLs it at
// the when-th call of sys (counted per thread, as strace does; Go makes
// bbolt's syncs of one command on one thread).
func straceKill(t *testing.T, env []string, sys string, when int, args ...string) kill {
	t.Helper()
	log := filepath.Join(t.TempDir(), "strace.log")
	sargs := append([]string{"-f", "-qq", "-o", log, "-e", "trace=" + sys,
		"-e", fmt.Sprintf("inject=%s:signal=KILL:when=%d", sys, when), bin}, args...)
	r := runBin(t, "strace", env, sargs...)
	trace, _ := os.ReadFile(log)
	died := regexp.MustCompile(`(?m)^\d+\s+(` + sys + `\(\d+\)|<\.\.\. ` + sys + ` resumed>\))\s+= \?$`).Match(trace)
	killed := strings.Contains(string(trace), "+++ killed by SIGKILL +++")
	at := killedCall(string(trace), sys)
	if !died || !killed || at != when {
		t.Logf("strace %s (the kill landed at call %d of the process): %s", strings.Join(sargs, " "), at, trace)
	}
	// strace counts per thread: a kill at the when-th call of one thread
	// that is a later call of the process (Go moved the goroutine between
	// two syncs) landed elsewhere, and does not count.
	return kill{result: r, landed: died && killed && at == when && r.stdout == ""}
}

// killedCall is the place, among all the calls of sys that the process
// made in the trace (every thread's, in order), of the call the kill
// ended (its result "= ?"); 0 when there is none.
func killedCall(trace, sys string) int {
	start := regexp.MustCompile(`^(\d+)\s+` + sys + `\(`)
	end := regexp.MustCompile(`^(\d+)\s+(` + sys + `\(\d+\)|<\.\.\. ` + sys + ` resumed>\))\s+= \?$`)
	n, last := 0, map[string]int{} // calls begun; the last one begun by each thread
	for _, line := range strings.Split(trace, "\n") {
		if m := start.FindStringSubmatch(line); m != nil {
			n++
			last[m[1]] = n
		}
		if m := end.FindStringSubmatch(line); m != nil {
			return last[m[1]]
		}
	}
	return 0
}

// crashCase is the state a run is killed in: its environment, its
// database, and the leases confirmed before.
type crashCase struct {
	env       []string
	db        string
	confirmed map[string]string
}

// landKill sets a case up afresh and kills a run in it, up to 8 times
// until the kill lands at the process's when-th call: strace counts calls
// per thread, and now and then Go moves the goroutine to another thread
// between two syncs, so that no thread makes the when-th call and the run
// completes, or a thread's when-th call is a later one of the process. It returns the
// case and the kill, and the number of runs it took.
func landKill(t *testing.T, setup func(t *testing.T) crashCase, sys string, when int, args ...string) (crashCase, kill, int) {
	t.Helper()
	for runs := 1; ; runs++ {
		c := setup(t)
		k := straceKill(t, c.env, sys, when, args...)
		// A kill that landed elsewhere ends strace by the same SIGKILL
		// (passed on, or as status 137): try again.
		if k.landed || runs == 8 || k.code != 0 && !k.signaled() && k.code != 128+9 {
			return c, k, runs
		}
	}
}

// confirm runs acquire for each slug and returns what each printed.
func confirm(t *testing.T, env []string, slugs ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, s := range slugs {
		out[s] = strings.TrimSpace(mustCLI(t, env, "acquire", s))
	}
	return out
}

// keeps fails the test unless every confirmed lease is in the database
// on the alias it was confirmed on, except those in except.
func keeps(t *testing.T, what string, leases, confirmed map[string]string, except ...string) {
	t.Helper()
	for s, a := range confirmed {
		if leases[s] != a && !contains(except, s) {
			t.Errorf("%s: the confirmed lease %s on %s is lost (database: %v)", what, s, a, leases)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestKillInsideCommit kills acquire and release at bbolt's first and
// second fdatasync of their one commit: after each, the database passes
// bbolt's check and the index bijection, and every lease confirmed
// before is there; the killed change is absent after the first and
// present after the second, which shows where the kill landed.
func TestKillInsideCommit(t *testing.T) {
	needStrace(t)
	tests := []struct {
		args    []string
		when    int
		present bool // the killed change's lease afterwards
	}{
		{[]string{"acquire", "new"}, 1, false},
		{[]string{"acquire", "new"}, 2, true},
		{[]string{"release", "c1"}, 1, true},
		{[]string{"release", "c1"}, 2, false},
	}
	setup := func(t *testing.T) crashCase {
		db := filepath.Join(t.TempDir(), "leases.db")
		env := []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off"}
		return crashCase{env: env, db: db, confirmed: confirm(t, env, "c0", "c1", "c2", "c3")}
	}
	landed, runs := 0, 0
	for _, tt := range tests {
		name := fmt.Sprintf("%s/fdatasync-%d", tt.args[0], tt.when)
		t.Run(name, func(t *testing.T) {
			c, k, n := landKill(t, setup, "fdatasync", tt.when, tt.args...)
			runs += n
			if !k.landed {
				t.Fatalf("%s under strace: %v, want it killed at fdatasync %d", name, k.result, tt.when)
			}
			landed++
			db, env, confirmed := c.db, c.env, c.confirmed
			leases := checkDB(t, db)
			keeps(t, name, leases, confirmed, tt.args[1])
			if _, ok := leases[tt.args[1]]; ok != tt.present {
				t.Errorf("after %s: lease %s present = %v, want %v", name, tt.args[1], ok, tt.present)
			}
			// The next run converges.
			mustCLI(t, env, tt.args...)
			leases = checkDB(t, db)
			keeps(t, name+", then again", leases, confirmed, tt.args[1])
		})
	}
	t.Logf("kills that landed inside a commit (acquire, release): %d, in %d runs under strace", landed, runs)
}

// TestKillDuringCreation kills the first acquire, which creates the
// database aside and renames it into place, at each of its syncs: the
// aside file's initialisation and commit, the growth of its file, the
// directory, and the first lease's commit. Afterwards the path holds no
// database or a whole one that passes its checks, and the next acquire
// creates or uses it, removing leftovers.
func TestKillDuringCreation(t *testing.T) {
	needStrace(t)
	tests := []struct {
		sys    string
		when   int
		exists string // "no", "empty", "leased"; "" for either
	}{
		{"fdatasync", 1, "no"}, // initialising the aside file
		{"fdatasync", 2, "no"}, // its first commit: data pages
		{"fdatasync", 3, "no"}, // its first commit: meta page
		{"fdatasync", 4, "empty"},
		{"fdatasync", 5, "leased"},
		{"fsync", 1, ""}, // growth of the aside file
		{"fsync", 2, ""}, // the directory, after the rename
	}
	setup := func(t *testing.T) crashCase {
		db := filepath.Join(t.TempDir(), "leases.db")
		return crashCase{env: []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off"}, db: db}
	}
	landed, runs := 0, 0
	for _, tt := range tests {
		name := fmt.Sprintf("%s-%d", tt.sys, tt.when)
		t.Run(name, func(t *testing.T) {
			c, k, n := landKill(t, setup, tt.sys, tt.when, "acquire", "a")
			runs += n
			if !k.landed {
				t.Fatalf("acquire under strace: %v, want it killed at %s %d", k.result, tt.sys, tt.when)
			}
			landed++
			db, env, dir := c.db, c.env, filepath.Dir(c.db)
			got := "no"
			if _, err := os.Lstat(db); err == nil {
				got = "empty"
				if _, ok := checkDB(t, db)["a"]; ok {
					got = "leased"
				}
			}
			if tt.exists != "" && got != tt.exists {
				t.Errorf("after a kill at %s: database %s, want %s", name, got, tt.exists)
			}
			out := strings.TrimSpace(mustCLI(t, env, "acquire", "a"))
			if leases := checkDB(t, db); leases["a"] != out {
				t.Errorf("after the kill, acquire a printed %q, database has %v", out, leases)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".leases.db.creating-*")); len(left) != 0 {
				t.Errorf("leftovers of the killed creation remain: %v", left)
			}
		})
	}
	t.Logf("kills that landed inside a commit or the creation (first acquire): %d, in %d runs under strace", landed, runs)
}

// TestKillInsideGCReclaim kills gc --grace 0s at the first and second
// fdatasync of its reclaim: the leases are all there, or all reclaimed,
// never some; the database passes its checks; the next gc finishes.
// It needs a Docker engine (gc refuses to reclaim without one).
func TestKillInsideGCReclaim(t *testing.T) {
	needStrace(t)
	dockerEnv := needDocker(t)
	// A block of aliases no container is likely to publish on.
	pool := fmt.Sprintf("127.254.%d.%d/29", rand.Intn(256), rand.Intn(32)*8)
	setup := func(t *testing.T) crashCase {
		db := filepath.Join(t.TempDir(), "leases.db")
		env := append([]string{"ALIASLEASE_DB=" + db, "ALIASLEASE_POOL=" + pool}, dockerEnv...)
		confirmed := confirm(t, append(env, "ALIASLEASE_DOCKER=off"), "g0", "g1", "g2")
		return crashCase{env: append(env, "ALIASLEASE_DOCKER=on"), db: db, confirmed: confirmed}
	}
	landed, runs := 0, 0
	for _, when := range []int{1, 2} {
		t.Run(fmt.Sprintf("fdatasync-%d", when), func(t *testing.T) {
			c, k, n := landKill(t, setup, "fdatasync", when, "gc", "--grace", "0s")
			runs += n
			if !k.landed {
				t.Fatalf("gc under strace: %v, want it killed at fdatasync %d", k.result, when)
			}
			landed++
			db, env, confirmed := c.db, c.env, c.confirmed
			leases := checkDB(t, db)
			switch {
			case when == 1:
				keeps(t, "gc killed before its meta page", leases, confirmed)
			case len(leases) != 0:
				t.Errorf("gc killed after its meta page was written: leases %v, want all reclaimed", leases)
			}
			out := mustCLI(t, env, "gc", "--grace", "0s")
			if n := strings.Count(out, "\n"); n != len(leases) {
				t.Errorf("gc after the kill printed %q, want the %d leases left", out, len(leases))
			}
			if leases := checkDB(t, db); len(leases) != 0 {
				t.Errorf("leases after gc: %v", leases)
			}
		})
	}
	t.Logf("kills that landed inside a commit (gc reclaim): %d, in %d runs under strace", landed, runs)
}
