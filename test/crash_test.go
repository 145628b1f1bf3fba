package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCrashPoints kills aliaslease (built with the aliaslease_crash tag)
// at each compiled-in crash point, then checks that the next ordinary run
// converges: the database opens and passes its checks, and the slug ends
// with exactly one lease.
func TestCrashPoints(t *testing.T) {
	tests := []struct {
		point string
		args  []string // of the crashing run; the slug is always "s"
		env   []string
	}{
		// After the commit, before the interface step: the lease exists;
		// the next acquire renews it.
		{point: "after-commit", args: []string{"--docker", "off", "acquire", "s"}},
		// Between the Docker query and the decision (auto with no engine
		// reaches it too, with no snapshot).
		{point: "after-inventory", args: []string{"acquire", "s"}, env: []string{"DOCKER_HOST=unix:///nonexistent.sock"}},
		// In the middle of creating the database.
		{point: "create-midway", args: []string{"--docker", "off", "acquire", "s"}},
	}
	for _, tt := range tests {
		t.Run(tt.point, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "leases.db")
			env := append([]string{"ALIASLEASE_DB=" + db}, tt.env...)
			if tt.point != "create-midway" {
				mustCLI(t, append(env, "ALIASLEASE_DOCKER=off"), "acquire", "other")
			}
			r := runBin(t, crashBin, append(env, "ALIASLEASE_CRASH="+tt.point), tt.args...)
			if r.code != -1 {
				t.Fatalf("run with ALIASLEASE_CRASH=%s: %v, want it killed", tt.point, r)
			}
			if tt.point == "create-midway" {
				if _, err := os.Stat(db); !os.IsNotExist(err) {
					t.Errorf("a database exists after a crash during its creation: %v", err)
				}
				if left, _ := filepath.Glob(filepath.Join(dir, ".leases.db.creating-*")); len(left) != 1 {
					t.Errorf("leftovers after the crash: %v, want the one half-made file", left)
				}
			}
			out := mustCLI(t, append(env, "ALIASLEASE_DOCKER=off"), "acquire", "s")
			leases := checkDB(t, db)
			if leases["s"]+"\n" != out {
				t.Errorf("after the crash, acquire s printed %q, database has %v", out, leases)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".leases.db.creating-*")); len(left) != 0 {
				t.Errorf("leftovers of the interrupted creation remain: %v", left)
			}
			// And once more: the same alias, still one lease.
			if again := mustCLI(t, append(env, "ALIASLEASE_DOCKER=off"), "acquire", "s"); again != out {
				t.Errorf("acquire s again = %q, want %q", again, out)
			}
		})
	}
}

// TestCrashBetweenQueryAndReclaimInGC kills gc after Docker answered and
// before it reclaimed: nothing is lost, and the next gc reclaims.
func TestCrashBetweenQueryAndReclaimInGC(t *testing.T) {
	db, env, p := dockerEnv(t)
	env = append(env, "ALIASLEASE_DOCKER=auto")
	mustCLI(t, append(env, "ALIASLEASE_DOCKER=off"), "acquire", "gone")
	before := readFile(t, db)
	r := runBin(t, crashBin, append(env, "ALIASLEASE_CRASH=after-inventory"), "gc", "--grace", "0s")
	if r.code != -1 {
		t.Fatalf("gc with a crash point: %v, want it killed", r)
	}
	if after := readFile(t, db); string(after) != string(before) {
		t.Errorf("a gc killed before deciding changed the database")
	}
	if out := mustCLI(t, env, "gc", "--grace", "0s"); !strings.HasPrefix(out, "gone "+p.at(0)+" no-holder") {
		t.Errorf("gc after the crash printed %q", out)
	}
	checkDB(t, db)
}
