//go:build linux

package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/internal/fstree"
	"github.com/aliaslease/aliaslease/internal/powercut"
	"github.com/aliaslease/aliaslease/lease"
)

// Power loss. The database lives on a powercut file system (a FUSE mount
// that keeps everything in memory until it is synced, see
// internal/powercut); the CLI runs on it as separate processes; a cut
// kills them all, drops whatever was not durable, and the lower
// directory is then what a disk would hold after the power came back.

const pcPool = "127.0.0.16-127.0.0.35"

// pcEnv is one simulator's mount and lower directory, and how the CLI
// reaches a fake Docker engine for gc.
type pcEnv struct {
	t          *testing.T
	lower, mnt string
	dockerHost string
	fs         *powercut.FS
	opts       powercut.Options
}

// newPCEnv skips the test where FUSE cannot be mounted (unless
// ALIASLEASE_TEST_FUSE=1 says it must be).
func newPCEnv(t *testing.T) *pcEnv {
	t.Helper()
	e := &pcEnv{t: t, lower: t.TempDir(), mnt: t.TempDir(), dockerHost: newFakeEngine(t, "").host}
	if err := powercut.Available(); err != nil {
		pcSkip(t, err)
	}
	e.mount()
	if err := e.fs.Cut(); err != nil {
		t.Fatal(err)
	}
	return e
}

func pcSkip(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("ALIASLEASE_TEST_FUSE") == "1" {
		t.Fatalf("FUSE is needed (ALIASLEASE_TEST_FUSE=1): %v", err)
	}
	t.Skipf("FUSE is not available, so power loss cannot be simulated: %v", err)
}

// mount serves the lower directory at the mount point.
func (e *pcEnv) mount() {
	e.t.Helper()
	f, err := powercut.Mount(e.lower, e.mnt, &e.opts)
	if err != nil {
		pcSkip(e.t, err)
	}
	e.fs = f
	e.t.Cleanup(func() { f.Cut() })
}

// cut loses power and unmounts.
func (e *pcEnv) cut() {
	e.t.Helper()
	if err := e.fs.Cut(); err != nil {
		e.t.Fatal(err)
	}
}

// args are the CLI arguments for op ("acquire", "release", "gc") on slug,
// with the database at db (a path on the mount).
func (e *pcEnv) args(db, op, slug string) []string {
	a := []string{"--db", db, "--pool", pcPool, "--lock-timeout", "30s"}
	switch op {
	case "gc":
		return append(a, "--docker", "on", "--docker-host", e.dockerHost, "gc", "--json", "--grace", "0s")
	case "acquire":
		return append(a, "--docker", "off", "acquire", "--json", "--no-ifup", slug)
	default:
		return append(a, "--docker", "off", op, "--json", slug)
	}
}

// pcOut is the JSON aliaslease prints for acquire, release, and each
// line of gc.
type pcOut struct {
	Slug       string `json:"slug"`
	Alias      string `json:"alias"`
	Generation uint64 `json:"generation"`
	Released   *bool  `json:"released"`
	Reason     string `json:"reason"`
}

// pcLease is a lease as the checks see it.
type pcLease struct {
	alias string
	gen   uint64
}

// pcDisk checks the database on the lower directory as "aliaslease
// doctor" does (read-only: bbolt's check, the records, the index
// bijection), compares the audit log with the leases, and returns the
// leases; exists is false when there is no database file.
func pcDisk(t *testing.T, db string) (leases map[string]pcLease, exists bool, err error) {
	t.Helper()
	if _, err := os.Lstat(db); errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	m := &lease.Manager{Path: db, Pool: lease.MustParsePool(lease.DefaultPool), LockTimeout: 5 * time.Second}
	st, err := m.CheckDatabase(context.Background())
	if err != nil {
		return nil, true, fmt.Errorf("check: %w", err)
	}
	if st.Events < 0 { // counted once the file is read
		return nil, true, fmt.Errorf("open: the database at %s vanished", db)
	}
	leases = map[string]pcLease{}
	for _, l := range st.Leases {
		leases[l.Slug] = pcLease{l.Alias.String(), l.Generation}
	}
	// The audit log is written in the same transaction as the change it
	// records: each slug's newest event agrees with its lease.
	evs, err := m.Events(context.Background(), 0, "")
	if err != nil {
		return nil, true, fmt.Errorf("audit log: %w", err)
	}
	newest := map[string]lease.Event{}
	for _, ev := range evs {
		newest[ev.Slug] = ev
	}
	for slug, ev := range newest {
		l, ok := leases[slug]
		switch ev.Kind {
		case lease.EventAcquire, lease.EventAdopt, lease.EventRenew, lease.EventRecover:
			if !ok || l.gen != ev.Generation {
				return nil, true, fmt.Errorf("audit log: the newest event of %s is %s of generation %d, its lease %v (leased %v)", slug, ev.Kind, ev.Generation, l, ok)
			}
		default:
			if ok {
				return nil, true, fmt.Errorf("audit log: the newest event of %s is %s of generation %d, yet it holds %v", slug, ev.Kind, ev.Generation, l)
			}
		}
	}
	for slug := range leases {
		if _, ok := newest[slug]; !ok && len(evs) < lease.MaxEvents {
			return nil, true, fmt.Errorf("audit log: no event for %s, which holds a lease", slug)
		}
	}
	return leases, true, nil
}

// pcRun runs the CLI to its end and parses what it printed.
func pcRun(t *testing.T, args []string) (result, []pcOut) {
	t.Helper()
	r := runBin(t, bin, nil, args...)
	return r, pcParse(r.stdout)
}

// pcParse reads acquire's or release's object, or gc's array; nil when
// nothing whole was printed.
func pcParse(s string) []pcOut {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		var out []pcOut
		if json.Unmarshal([]byte(s), &out) != nil {
			return nil
		}
		if out == nil {
			out = []pcOut{}
		}
		return out
	}
	var o pcOut
	if s == "" || json.Unmarshal([]byte(s), &o) != nil {
		return nil
	}
	return []pcOut{o}
}

// TestPowerCutSequences cuts the power at every sync call of one
// command in turn (the n-th fsync, fdatasync or directory fsync fails
// and nothing after it reaches the disk), for the creation of a
// database, a new lease, a renewal, a release and a gc. After each cut
// the database on the disk is absent (creation only) or passes its
// checks and holds the state before the command or one the command
// could have left; then the next command on it converges, and what it
// printed survives a cut right after it.
func TestPowerCutSequences(t *testing.T) {
	e := newPCEnv(t)
	db := filepath.Join(e.mnt, "leases.db")
	lowerDB := filepath.Join(e.lower, "leases.db")
	steps := []struct {
		name  string
		setup []string // slugs acquired first, all synced
		op    string
		slug  string
	}{
		{"create", nil, "acquire", "a"},
		{"new-lease", []string{"a"}, "acquire", "b"},
		{"renew", []string{"a", "b"}, "acquire", "a"},
		{"release", []string{"a", "b"}, "release", "a"},
		{"gc", []string{"a", "b"}, "gc", ""},
	}
	cuts := 0
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			for n := 1; ; n++ {
				// A fresh disk holding the setup.
				pcClear(t, e.lower)
				e.mount()
				for _, s := range st.setup {
					if r, out := pcRun(t, e.args(db, "acquire", s)); r.code != 0 || out == nil {
						t.Fatalf("setup: acquire %s: %v", s, r)
					}
				}
				if err := e.fs.Unmount(); err != nil {
					t.Fatal(err)
				}
				before, _, err := pcDisk(t, lowerDB)
				if err != nil {
					t.Fatal(err)
				}
				e.mount()
				e.fs.PowerOffAtSync(n)
				r, out := pcRun(t, e.args(db, st.op, st.slug))
				offAt := e.fs.Stats().CutAtSync
				e.cut()
				cuts++
				got, exists, err := pcDisk(t, lowerDB)
				if err != nil {
					t.Fatalf("cut at sync call %d of %s: the database on the disk: %v (the command: %v)", n, st.name, err, r)
				}
				if offAt == 0 {
					// The command made fewer than n sync calls: a cut
					// was tried at each. It succeeded, and what it
					// printed is on the disk.
					if r.code != 0 || out == nil {
						t.Fatalf("%s with no cut: %v", st.name, r)
					}
					if want := pcApply(before, st.op, out); !exists || fmt.Sprint(got) != fmt.Sprint(want) {
						t.Fatalf("%s printed %v; after a cut right after it the disk holds %v (database there: %v), want %v", st.name, out, got, exists, want)
					}
					t.Logf("%s: %d sync calls, a cut at each", st.name, n-1)
					return
				}
				if out != nil {
					t.Errorf("cut at sync call %d of %s: it printed %v though that sync failed", n, st.name, out)
				}
				switch {
				case !exists && st.setup != nil:
					t.Fatalf("cut at sync call %d of %s: the database is gone", n, st.name)
				case exists && !pcMayLeave(before, got, st.op, st.slug):
					t.Fatalf("cut at sync call %d of %s: the disk holds %v; before the command it held %v", n, st.name, got, before)
				}
				// The next command converges, and what it prints survives.
				e.mount()
				r, out = pcRun(t, e.args(db, "acquire", "z"))
				if r.code != 0 || out == nil {
					t.Fatalf("cut at sync call %d of %s: the next acquire: %v", n, st.name, r)
				}
				e.cut()
				got2, _, err := pcDisk(t, lowerDB)
				if err != nil || got2["z"] != (pcLease{out[0].Alias, out[0].Generation}) {
					t.Fatalf("cut at sync call %d of %s: the next acquire printed %v; after a cut the disk holds %v (%v)", n, st.name, out, got2, err)
				}
				for s, l := range got {
					if got2[s] != l {
						t.Fatalf("cut at sync call %d of %s: %s was %v on the disk, after the next acquire %v", n, st.name, s, l, got2[s])
					}
				}
				// A creation cleans up the leftovers of the one cut short,
				// durably.
				if left, _ := filepath.Glob(filepath.Join(e.lower, ".leases.db.creating-*")); !exists && len(left) > 0 {
					t.Fatalf("cut at sync call %d of %s: the next acquire created the database; after a cut the disk still holds %v", n, st.name, fstree.Snapshot(e.lower))
				}
			}
		})
	}
	t.Logf("power-cut sequences: %d cuts", cuts)
}

// TestPowerCutsCatchSkippedSyncs shows that the checks above would catch
// a program that left out its sync calls: with the simulator lying
// about directory fsyncs, a new database is gone after a cut; lying
// about file syncs, a printed lease is.
func TestPowerCutsCatchSkippedSyncs(t *testing.T) {
	e := newPCEnv(t)
	db, lowerDB := filepath.Join(e.mnt, "leases.db"), filepath.Join(e.lower, "leases.db")
	e.opts = powercut.Options{SkipDirSyncs: true}
	e.mount()
	if r, out := pcRun(t, e.args(db, "acquire", "a")); r.code != 0 || out == nil {
		t.Fatalf("acquire: %v", r)
	}
	e.cut()
	if _, exists, _ := pcDisk(t, lowerDB); exists {
		t.Errorf("without directory fsyncs, a new database survived a cut: the simulator keeps what it should not")
	}

	e.opts = powercut.Options{}
	e.mount()
	if r, out := pcRun(t, e.args(db, "acquire", "a")); r.code != 0 || out == nil {
		t.Fatalf("acquire: %v", r)
	}
	e.fs.Unmount()
	e.opts = powercut.Options{SkipFileSyncs: true}
	e.mount()
	r, out := pcRun(t, e.args(db, "acquire", "b"))
	if r.code != 0 || out == nil {
		t.Fatalf("acquire: %v", r)
	}
	e.cut()
	got, _, err := pcDisk(t, lowerDB)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["b"]; ok || len(got) != 1 {
		t.Errorf("without file syncs, the disk holds %v after a cut; want only a's lease", got)
	}
}

// pcClear empties the lower directory: a new disk.
func pcClear(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
}

// pcApply is the state after op printed out, starting from before.
func pcApply(before map[string]pcLease, op string, out []pcOut) map[string]pcLease {
	after := map[string]pcLease{}
	for s, l := range before {
		after[s] = l
	}
	for _, o := range out {
		switch {
		case op == "acquire":
			after[o.Slug] = pcLease{o.Alias, o.Generation}
		case op == "release" && o.Released != nil && *o.Released, op == "gc":
			delete(after, o.Slug)
		}
	}
	return after
}

// pcMayLeave says whether got is the state before, or one that op on
// slug could have left (it was cut before it printed): acquire adds or
// renews slug's lease, release removes it, gc (with --grace 0s, no
// holders) removes every lease.
func pcMayLeave(before, got map[string]pcLease, op, slug string) bool {
	if fmt.Sprint(before) == fmt.Sprint(got) {
		return true
	}
	switch op {
	case "acquire":
		if l, ok := before[slug]; ok && got[slug] != l {
			return false
		}
		if _, ok := got[slug]; !ok || len(got) != len(before)+1 {
			return false
		}
		for s, l := range before {
			if got[s] != l {
				return false
			}
		}
		return true
	case "release":
		want := pcApply(before, "gc", []pcOut{{Slug: slug}})
		return fmt.Sprint(got) == fmt.Sprint(want)
	case "gc":
		return len(got) == 0
	}
	return false
}

// TestPowerCutNewDirectories: acquire creates the database's directories
// as well as the database. It printed the alias, so the lease must
// survive a power cut right after it.
func TestPowerCutNewDirectories(t *testing.T) {
	e := newPCEnv(t)
	e.mount()
	db := filepath.Join(e.mnt, "state", "aliaslease", "leases.db")
	r, out := pcRun(t, e.args(db, "acquire", "a"))
	if r.code != 0 || out == nil {
		t.Fatalf("acquire: %v", r)
	}
	e.cut()
	got, exists, err := pcDisk(t, filepath.Join(e.lower, "state", "aliaslease", "leases.db"))
	switch {
	case err != nil:
		t.Fatal(err)
	case !exists:
		t.Fatalf("acquire printed %s, and after a power cut the database is gone: the directories it created "+
			"(mkdir state, state/aliaslease) were never synced in their parents (the disk holds %v)",
			out[0].Alias, fstree.Snapshot(e.lower))
	case got["a"] != (pcLease{out[0].Alias, out[0].Generation}):
		t.Fatalf("acquire printed %v; after a power cut the disk holds %v", out[0], got)
	}
}

// pcSlug is what the random cuts know of one slug's lease.
type pcSlug struct {
	has  bool // a lease (l) was printed by an acquire, or found on the disk at the last cut
	l    pcLease
	dead map[uint64]bool // generations a printed release or gc removed
	acq  bool            // an acquire was running at the cut
	rel  bool            // a release was running at the cut
}

func (s *pcSlug) expected() (pcLease, bool) {
	if s.has && !s.dead[s.l.gen] {
		return s.l, true
	}
	return pcLease{}, false
}

// pcCuts is the state of TestPowerCuts.
type pcCuts struct {
	t   *testing.T
	e   *pcEnv
	db  string
	mu  sync.Mutex
	run map[*os.Process]bool
	// what the processes printed, per slug, and what ran at the cut
	slugs   map[string]*pcSlug
	gcAtCut bool
	maxGen  uint64 // the largest generation on the disk at the last cut
	created bool   // the database was on the disk, or an acquire printed
	errs    []string
	n       map[string]int // counts for the log
}

// start runs one command; it returns its result, its answer if it
// printed a whole one, whether the power was off when it ended, and
// whether it ran at all (not when the power was off already).
func (c *pcCuts) start(args []string) (r result, out []pcOut, off, ran bool) {
	c.mu.Lock()
	if c.e.fs.Off() {
		c.mu.Unlock()
		return r, nil, true, false
	}
	p, err := spawn(command(bin, nil, args...))
	if err != nil {
		c.errs = append(c.errs, err.Error())
		c.mu.Unlock()
		return r, nil, true, false
	}
	c.run[p.cmd.Process] = true
	c.mu.Unlock()
	r = p.result()
	off = c.e.fs.Off()
	c.mu.Lock()
	delete(c.run, p.cmd.Process)
	c.mu.Unlock()
	if r.code == 0 {
		out = pcParse(r.stdout)
	}
	return r, out, off, true
}

// worker runs random commands on its own slugs until the power is off.
func (c *pcCuts) worker(id int, seed int64) {
	r := rand.New(rand.NewSource(seed))
	for !c.e.fs.Off() {
		slug := fmt.Sprintf("w%ds%d", id, r.Intn(4))
		op := "acquire"
		switch p := r.Intn(100); {
		case p < 30:
			op = "release"
		case p < 45:
			op = "gc"
		}
		res, out, off, ran := c.start(c.e.args(c.db, op, slug))
		if !ran {
			return
		}
		c.mu.Lock()
		c.n[op]++
		switch {
		case out != nil:
			c.n[op+" printed"]++
			c.printed(op, slug, out)
		case !off:
			c.errs = append(c.errs, fmt.Sprintf("%s %s failed with the power on: %v", op, slug, res))
		case op == "gc":
			c.n["gc at the cut"]++
			c.gcAtCut = true
		case op == "acquire":
			c.n["acquire at the cut"]++
			c.slugs[slug].acq = true
		default:
			c.n["release at the cut"]++
			c.slugs[slug].rel = true
		}
		c.mu.Unlock()
	}
}

// printed records what a command printed (its commit is durable, since
// it printed only after its sync calls succeeded). Under c.mu.
func (c *pcCuts) printed(op, slug string, out []pcOut) {
	switch op {
	case "acquire":
		o := out[0]
		s := c.slugs[slug]
		l := pcLease{o.Alias, o.Generation}
		if s.has && s.l.gen == l.gen && s.l != l {
			c.errs = append(c.errs, fmt.Sprintf("acquire %s renewed generation %d on %s; it was on %s", slug, l.gen, l.alias, s.l.alias))
		}
		if (!s.has || s.l.gen != l.gen) && l.gen <= c.maxGen {
			c.errs = append(c.errs, fmt.Sprintf("acquire %s made generation %d; the disk already held generation %d at the last cut", slug, l.gen, c.maxGen))
		}
		s.has, s.l = true, l
		c.created = true
	case "release":
		o := out[0]
		s := c.slugs[slug]
		if o.Released != nil && *o.Released {
			s.dead[o.Generation] = true
			if s.has && s.l.gen != o.Generation {
				c.errs = append(c.errs, fmt.Sprintf("release %s freed generation %d; it held %d", slug, o.Generation, s.l.gen))
			}
		} else if s.has {
			// No lease: a gc reclaimed it, and that is durable.
			s.dead[s.l.gen] = true
		}
	case "gc":
		for _, o := range out {
			s := c.slugs[o.Slug]
			if s == nil {
				c.errs = append(c.errs, fmt.Sprintf("gc reclaimed %q, a slug no worker uses", o.Slug))
				continue
			}
			s.dead[o.Generation] = true
			c.n["gc reclaimed"]++
		}
	}
}

// check compares the disk after a cut with what was printed, then takes
// the disk as the truth for the next round.
func (c *pcCuts) check() error {
	got, exists, err := pcDisk(c.t, filepath.Join(c.e.lower, filepath.Base(c.db)))
	if err != nil {
		return fmt.Errorf("the database on the disk: %v", err)
	}
	if !exists {
		if c.created {
			return fmt.Errorf("the database is gone, though it was on the disk or an acquire printed an alias")
		}
		got = map[string]pcLease{}
	}
	var problems []string
	for name, s := range c.slugs {
		want, present := s.expected()
		g, ok := got[name]
		switch {
		case ok && present && g == want:
		case !ok && !present:
		case !ok && (s.rel || c.gcAtCut) && present:
			// a release or gc running at the cut removed it
		case ok && s.acq && g.gen > max(s.l.gen, c.maxGen) && (!present || c.gcAtCut):
			// a new lease from an acquire running at the cut
		case ok && present:
			problems = append(problems, fmt.Sprintf("%s: printed %v, the disk holds %v", name, want, g))
		case ok:
			problems = append(problems, fmt.Sprintf("%s: the disk holds %v, which nothing printed (last printed %v, removed generations %v, acquire running %v)", name, g, s.l, s.dead, s.acq))
		default:
			problems = append(problems, fmt.Sprintf("%s: printed %v (acquire), and the disk has no lease (release running %v, gc running %v)", name, want, s.rel, c.gcAtCut))
		}
	}
	for name := range got {
		if c.slugs[name] == nil {
			problems = append(problems, fmt.Sprintf("%s: a lease of a slug no worker uses", name))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return errors.New(strings.Join(problems, "; "))
	}
	// The disk is the truth from now on.
	for name, s := range c.slugs {
		g, ok := got[name]
		*s = pcSlug{has: ok, l: g, dead: map[uint64]bool{}}
		c.maxGen = max(c.maxGen, g.gen)
	}
	c.gcAtCut = false
	c.created = c.created || exists
	return nil
}

// TestPowerCuts: workers run acquire, release and gc on one database on
// the simulator (creating it first); the power goes off at a random
// moment or at a random sync call, sometimes with random writeback
// before; then, on the disk, the database opens (or is absent, if it was
// never created durably), passes bbolt's check and the index bijection,
// every lease an acquire printed is there unless a printed release or gc
// removed it, and no lease a printed release or gc removed came back.
// The database carries over from cut to cut, so each run recovers from
// the last; every few cuts it starts anew. ALIASLEASE_POWERCUTS sets the
// number of cuts (30 by default).
func TestPowerCuts(t *testing.T) {
	total := envInt("ALIASLEASE_POWERCUTS", 50)
	e := newPCEnv(t)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	const workers = 4
	c := &pcCuts{t: t, e: e, db: filepath.Join(e.mnt, "leases.db"), run: map[*os.Process]bool{}, n: map[string]int{}}
	var stats powercut.Stats
	start := time.Now()
	for i := range total {
		if i == 0 || r.Intn(8) == 0 {
			// A new database: it is created by the first acquires.
			os.Remove(filepath.Join(e.lower, "leases.db"))
			os.Remove(filepath.Join(e.lower, "leases.db.lock"))
			c.slugs, c.maxGen, c.created = map[string]*pcSlug{}, 0, false
			for w := range workers {
				for s := range 4 {
					c.slugs[fmt.Sprintf("w%ds%d", w, s)] = &pcSlug{dead: map[uint64]bool{}}
				}
			}
			c.n["new databases"]++
		}
		fresh := !c.created
		e.mount()
		how := ""
		bySync := r.Intn(2) == 0
		if bySync {
			n := 1 + r.Intn(100)
			if fresh && r.Intn(2) == 0 {
				n = 1 + r.Intn(8) // within the creation (7 sync calls)
			}
			e.fs.PowerOffAtSync(n)
			how = fmt.Sprintf("at sync call %d", n)
			c.n["cut at a sync call"]++
		} else {
			c.n["cut at a moment"]++
		}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func(seed int64) { defer wg.Done(); c.worker(w, seed) }(r.Int63())
		}
		if r.Intn(2) == 0 {
			wg.Add(1)
			go func(wb *rand.Rand) {
				defer wg.Done()
				for !e.fs.Off() {
					e.fs.Writeback(wb, 0.1)
					time.Sleep(time.Duration(wb.Intn(3000)) * time.Microsecond)
				}
			}(rand.New(rand.NewSource(r.Int63())))
			how += " with writeback"
		}
		wait := time.Duration(r.Intn(400)) * time.Millisecond
		if r.Intn(4) == 0 {
			wait = time.Duration(r.Intn(40)) * time.Millisecond // early: during creation
		}
		if bySync {
			wait = 10 * time.Second // a bound only
		}
		for deadline := time.Now().Add(wait); !e.fs.Off() && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		e.fs.PowerOff()
		if !bySync {
			how = fmt.Sprintf("after %v", wait) + how
		}
		c.mu.Lock()
		for p := range c.run {
			p.Signal(syscall.SIGKILL)
		}
		c.mu.Unlock()
		wg.Wait()
		e.cut()
		s := e.fs.Stats()
		stats.Fsyncs += s.Fsyncs
		stats.Fdatasyncs += s.Fdatasyncs
		stats.DirSyncs += s.DirSyncs
		stats.WritebackPages += s.WritebackPages
		stats.WritebackDirs += s.WritebackDirs
		c.n["cuts"]++
		if len(c.errs) > 0 {
			t.Fatalf("cut %d (%s), seed %d: %s", i, how, seed, strings.Join(c.errs, "; "))
		}
		if err := c.check(); err != nil {
			t.Fatalf("cut %d (%s), seed %d: %v", i, how, seed, err)
		}
		if fresh {
			if c.created {
				c.n["rounds begun without a database: one there after the cut"]++
			} else {
				c.n["rounds begun without a database: none after the cut"]++
			}
		}
		if s.WritebackPages+s.WritebackDirs > 0 {
			c.n["cuts after early writeback"]++
		}
	}
	t.Logf("power cuts: %d cuts in %v; %v; file system: %d fsync, %d fdatasync, %d directory fsync, %d pages and %d directories written back early",
		total, time.Since(start).Round(time.Second), c.n, stats.Fsyncs, stats.Fdatasyncs, stats.DirSyncs, stats.WritebackPages, stats.WritebackDirs)
}

// TestPowerCutLockRecord: the lock file's holder record is written in
// place and never synced, so after a cut the disk may hold it, none of
// it, or (where the file's size reached the disk before its data, as
// writeback allows) 128 zero bytes. Whatever it holds, the next
// exclusive holder records itself again, so that a health report can
// name a stuck holder.
func TestPowerCutLockRecord(t *testing.T) {
	e := newPCEnv(t)
	db := filepath.Join(e.mnt, "leases.db")
	lock := filepath.Join(e.lower, "leases.db.lock")
	zeros := false
	for seed := int64(0); seed < 200 && !zeros; seed++ {
		pcClear(t, e.lower)
		e.mount()
		if r, out := pcRun(t, e.args(db, "acquire", "a")); r.code != 0 || out == nil {
			t.Fatalf("acquire: %v", r)
		}
		e.fs.Writeback(rand.New(rand.NewSource(seed)), 0.5)
		e.cut()
		b, err := os.ReadFile(lock)
		zeros = err == nil && len(b) > 0 && bytes.Count(b, []byte{0}) == len(b)
	}
	if !zeros {
		t.Skip("no cut left a zeroed lock record")
	}
	e.mount()
	if r, out := pcRun(t, e.args(db, "acquire", "a")); r.code != 0 || out == nil {
		t.Fatalf("acquire: %v", r)
	}
	b, err := os.ReadFile(filepath.Join(e.mnt, "leases.db.lock"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("pid=")) {
		t.Errorf("a cut left the lock file as %d zero bytes; the next acquire wrote no holder record in it (it holds %q...), so a stuck holder can no longer be named", len(b), b[:min(len(b), 16)])
	}
}
