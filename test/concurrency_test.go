package test

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentDistinctSlugs starts 32 processes at once, each acquiring
// its own slug on one database: all must succeed with distinct aliases.
func TestConcurrentDistinctSlugs(t *testing.T) {
	const procs = 32
	db := filepath.Join(t.TempDir(), "leases.db")
	env := []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_DOCKER=off", "ALIASLEASE_POOL=127.0.0.16-127.0.0.63"}
	results := make([]result, procs)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = cli(t, env, "acquire", fmt.Sprintf("bottle-%02d", i))
		}()
	}
	close(start)
	wg.Wait()
	seen := map[string]int{}
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("acquire bottle-%02d: %v", i, r)
			continue
		}
		alias := strings.TrimSpace(r.stdout)
		if j, dup := seen[alias]; dup {
			t.Errorf("bottle-%02d and bottle-%02d both got %s", i, j, alias)
		}
		seen[alias] = i
	}
	t.Logf("%d processes, %d distinct aliases", procs, len(seen))
	if len(seen) != procs {
		t.Errorf("%d distinct aliases, want %d", len(seen), procs)
	}
	// The database agrees with what the processes printed.
	list := mustCLI(t, env, "list")
	for alias, i := range seen {
		if !strings.Contains(list, fmt.Sprintf("bottle-%02d  %s ", i, alias)) {
			t.Errorf("list lacks bottle-%02d on %s:\n%s", i, alias, list)
		}
	}
}
