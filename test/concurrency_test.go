package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aliaslease/aliaslease/lease"
)

// envInt reads a size of the suite from the environment, so the soak
// script can run the same tests longer.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// together runs n CLI processes at once, released by one signal, and
// returns their results in order.
func together(t *testing.T, n int, env []string, args func(i int) []string) []result {
	t.Helper()
	results := make([]result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = cli(t, env, args(i)...)
		}()
	}
	close(start)
	wg.Wait()
	return results
}

// checkDB runs every check of the database as "aliaslease doctor" does
// (bbolt's consistency check, the lease records, the one-slug-one-alias
// index), read-only under the shared lock, and returns the leases.
func checkDB(t *testing.T, db string) map[string]string {
	t.Helper()
	mgr := &lease.Manager{Path: db, Pool: lease.MustParsePool(lease.DefaultPool)}
	st, err := mgr.CheckDatabase(context.Background())
	if err != nil {
		t.Fatalf("CheckDatabase(%q) = %v", db, err)
	}
	if !st.Exists || st.Events < 0 { // Events is counted once the file is read
		t.Fatalf("CheckDatabase(%q) = %+v, want a database read", db, st)
	}
	m := map[string]string{}
	for _, l := range st.Leases {
		m[l.Slug] = l.Alias.String()
	}
	return m
}

// TestConcurrentDistinctSlugs: 32 processes at once, each acquiring its
// own slug on one database, for several rounds: all succeed, all aliases
// distinct, and the database agrees.
func TestConcurrentDistinctSlugs(t *testing.T) {
	procs, rounds := 32, envInt("ALIASLEASE_ROUNDS", 3)
	db := filepath.Join(t.TempDir(), "leases.db")
	env := []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off", "ALIASLEASE_POOL=127.0.0.16-127.0.0.63"}
	for round := range rounds {
		results := together(t, procs, env, func(i int) []string { return []string{"acquire", fmt.Sprintf("r%d-%02d", round, i)} })
		seen := map[string]int{}
		for i, r := range results {
			if r.code != 0 {
				t.Errorf("round %d: acquire r%d-%02d: %v", round, round, i, r)
				continue
			}
			alias := strings.TrimSpace(r.stdout)
			if j, dup := seen[alias]; dup {
				t.Errorf("round %d: r%d-%02d and r%d-%02d both got %s", round, round, i, round, j, alias)
			}
			seen[alias] = i
		}
		leases := checkDB(t, db)
		for alias, i := range seen {
			if got := leases[fmt.Sprintf("r%d-%02d", round, i)]; got != alias {
				t.Errorf("round %d: database has r%d-%02d on %q, the process printed %s", round, round, i, got, alias)
			}
		}
		// Release the round concurrently too, so the next starts empty.
		for i, r := range together(t, procs, env, func(i int) []string { return []string{"release", fmt.Sprintf("r%d-%02d", round, i)} }) {
			if r.code != 0 || r.stdout == "" {
				t.Errorf("round %d: release r%d-%02d: %v", round, round, i, r)
			}
		}
		if left := checkDB(t, db); len(left) != 0 {
			t.Errorf("round %d: leases left after releasing all: %v", round, left)
		}
	}
	t.Logf("distinct slugs: %d processes x %d rounds, all distinct", procs, rounds)
}

// TestConcurrentSameSlug: 16 processes acquire one slug: one lease, one
// alias printed by all.
func TestConcurrentSameSlug(t *testing.T) {
	const procs = 16
	db := filepath.Join(t.TempDir(), "leases.db")
	env := []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off"}
	results := together(t, procs, env, func(int) []string { return []string{"acquire", "shared"} })
	aliases := map[string]bool{}
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("process %d: %v", i, r)
		}
		aliases[r.stdout] = true
	}
	leases := checkDB(t, db)
	if len(aliases) != 1 || len(leases) != 1 || leases["shared"]+"\n" != results[0].stdout {
		t.Errorf("%d processes printed %v; database %v; want one alias, one lease", procs, aliases, leases)
	}
	t.Logf("same slug: %d processes, 1 lease on %s", procs, leases["shared"])
}

// TestConcurrentExhaustion: 20 processes on a pool of 8: exactly 8
// succeed, 12 exit 3, no alias twice.
func TestConcurrentExhaustion(t *testing.T) {
	const procs = 20
	db := filepath.Join(t.TempDir(), "leases.db")
	env := []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off", "ALIASLEASE_POOL=127.0.0.16-127.0.0.23"}
	results := together(t, procs, env, func(i int) []string { return []string{"acquire", fmt.Sprintf("b%02d", i)} })
	ok, exhausted, seen := 0, 0, map[string]bool{}
	for i, r := range results {
		switch r.code {
		case 0:
			ok++
			if seen[r.stdout] {
				t.Errorf("b%02d got %q, already handed out", i, r.stdout)
			}
			seen[r.stdout] = true
		case 3:
			exhausted++
			if r.stdout != "" {
				t.Errorf("b%02d exited 3 but printed %q", i, r.stdout)
			}
		default:
			t.Errorf("b%02d: %v", i, r)
		}
	}
	if ok != 8 || exhausted != 12 || len(checkDB(t, db)) != 8 {
		t.Errorf("%d succeeded, %d exhausted, %d leases; want 8, 12, 8", ok, exhausted, len(checkDB(t, db)))
	}
	t.Logf("exhaustion: %d processes on a pool of 8: %d leased, %d exit 3", procs, ok, exhausted)
}
