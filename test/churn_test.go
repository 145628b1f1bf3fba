package test

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// churn runs random acquire/release/gc processes on one database and
// kills some with SIGKILL at random moments.
type churn struct {
	t   *testing.T
	db  string
	env []string

	mu                 sync.Mutex
	running            map[*os.Process]bool
	confirmed          map[string]string // slug -> alias of an acquire that exited 0, not released since
	unsure             map[string]bool   // a killed acquire or release left this slug's state open
	ops, kills, checks int
	exitCounts         map[string]int
}

// start runs one command, where the killer can find it, and says whether
// a signal ended it.
func (c *churn) start(args ...string) (result, bool) {
	p, err := spawn(command(bin, c.env, args...))
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.running[p.cmd.Process] = true
	c.mu.Unlock()
	r := p.result()
	c.mu.Lock()
	delete(c.running, p.cmd.Process)
	c.ops++
	c.mu.Unlock()
	if r.code == -2 {
		c.t.Fatalf("wait: %s", r.stderr)
	}
	return r, r.signaled()
}

// worker owns its slugs, so that what it knows of them is exact.
func (c *churn) worker(id int, ops int, seed int64, gcArgs []string) {
	rnd := rand.New(rand.NewSource(seed))
	for range ops {
		slug := fmt.Sprintf("w%d-s%d", id, rnd.Intn(4))
		var args []string
		switch p := rnd.Intn(100); {
		case p < 50:
			args = []string{"acquire", slug}
		case p < 85:
			args = []string{"release", slug}
		default:
			args = gcArgs
		}
		r, killed := c.start(args...)
		c.mu.Lock()
		if killed {
			c.exitCounts[args[0]+":killed"]++
		} else {
			c.exitCounts[fmt.Sprintf("%s:%d", args[0], r.code)]++
		}
		switch {
		case args[0] == "gc" || args[0] == "list":
			if !killed && r.code != 0 {
				c.t.Errorf("%v: %v", args, r)
			}
		case killed:
			// A killed release may or may not have ended the lease; a
			// killed acquire may or may not have made one, but cannot
			// have removed one the slug held.
			if _, held := c.confirmed[slug]; args[0] == "release" || !held {
				delete(c.confirmed, slug)
				c.unsure[slug] = true
			}
		case args[0] == "acquire" && r.code == 0:
			alias := strings.TrimSpace(r.stdout)
			if was, ok := c.confirmed[slug]; ok && was != alias {
				c.t.Errorf("acquire %s = %s, but it held %s", slug, alias, was)
			}
			c.confirmed[slug] = alias
			delete(c.unsure, slug)
		case args[0] == "acquire" && r.code == 3:
			if was, ok := c.confirmed[slug]; ok {
				c.t.Errorf("acquire %s exhausted, but it held %s", slug, was)
			}
		case args[0] == "release" && r.code == 0:
			if was, ok := c.confirmed[slug]; ok && strings.TrimSpace(r.stdout) != was {
				c.t.Errorf("release %s printed %q, but it held %s (%s)", slug, r.stdout, was, r.stderr)
			}
			delete(c.confirmed, slug)
			delete(c.unsure, slug)
		default:
			c.t.Errorf("%v: %v", args, r)
		}
		c.mu.Unlock()
	}
}

// verify checks the database against what the workers know; only
// between rounds, when no process runs.
func (c *churn) verify(round int) {
	leases := checkDB(c.t, c.db)
	byAlias := map[string]string{}
	for slug, alias := range leases {
		if other, dup := byAlias[alias]; dup {
			c.t.Errorf("round %d: %s leased to %s and %s", round, alias, slug, other)
		}
		byAlias[alias] = slug
	}
	for slug, alias := range c.confirmed {
		if leases[slug] != alias {
			c.t.Errorf("round %d: %s confirmed on %s, database has %q", round, slug, alias, leases[slug])
		}
	}
	for slug := range leases {
		if _, ok := c.confirmed[slug]; !ok && !c.unsure[slug] {
			c.t.Errorf("round %d: %s has a lease no acquire confirmed", round, slug)
		}
	}
}

// TestChurnWithKills: workers run random commands; a killer SIGKILLs
// random ones. After every kill the database must open and pass bbolt's
// consistency check and the one-slug-one-alias check; after every round,
// every confirmed and unreleased acquire must still be there.
func TestChurnWithKills(t *testing.T) {
	rounds, workers, ops := envInt("ALIASLEASE_CHURN_ROUNDS", 3), 6, envInt("ALIASLEASE_CHURN_OPS", 20)
	db := filepath.Join(t.TempDir(), "leases.db")
	c := &churn{t: t, db: db, running: map[*os.Process]bool{}, confirmed: map[string]string{}, unsure: map[string]bool{}, exitCounts: map[string]int{}}
	// gc needs Docker; with an engine it runs for real (with a grace that
	// reclaims nothing a worker still counts on), without one list stands
	// in for it.
	gcArgs := []string{"list"}
	c.env = []string{"ALIASLEASE_DB=" + db, "ALIASLEASE_POOL=127.0.0.16-127.0.0.35", "ALIASLEASE_DOCKER=auto", "DOCKER_HOST=unix:///nonexistent.sock"}
	if dockerEnv, ok := dockerIfAny(t); ok {
		// On a pool no container of the engine publishes on, so that
		// others' containers never count as holders here.
		gcArgs = []string{"gc", "--grace", "1h"}
		p := freePool(t, 32)
		c.env = append(dockerEnv, "ALIASLEASE_DB="+db, "ALIASLEASE_POOL="+p.at(0)+"-"+p.at(19), "ALIASLEASE_DOCKER=auto")
		t.Logf("with the engine at %s, on the pool %s-%s", dockerEnv[0], p.at(0), p.at(19))
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewSource(seed))
	for round := range rounds {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() { defer wg.Done(); c.worker(w, ops, rnd.Int63(), gcArgs) }()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
	killing:
		for {
			select {
			case <-done:
				break killing
			case <-time.After(time.Duration(2+rnd.Intn(25)) * time.Millisecond):
			}
			c.mu.Lock()
			var victim *os.Process
			for p := range c.running {
				victim = p
				break
			}
			c.mu.Unlock()
			if victim == nil || victim.Signal(syscall.SIGKILL) != nil {
				continue
			}
			c.mu.Lock()
			c.kills++
			c.mu.Unlock()
			if _, err := os.Stat(db); err == nil {
				checkDB(t, db) // opens, passes the checks, beside the running workers
				c.checks++
			}
		}
		c.verify(round)
		if t.Failed() {
			break
		}
	}
	t.Logf("churn: %d rounds, %d workers, %d processes run, %d killed with SIGKILL, %d checks after kills; outcomes %v",
		rounds, workers, c.ops, c.kills, c.checks, c.exitCounts)
	if c.kills == 0 {
		t.Errorf("no process was killed; the churn tested nothing")
	}
}
