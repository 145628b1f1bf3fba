package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/aliaslease/aliaslease/lease"
	"github.com/aliaslease/aliaslease/netif"
)

// fakeEngine is a test double for the Docker adapter: an Inventory that
// can describe itself.
type fakeEngine struct {
	holders []lease.Holder
	err     error
	silent  bool // Describe fails too: no version, as when nothing answers
}

func (f fakeEngine) Holders(context.Context) ([]lease.Holder, error) {
	return f.holders, f.err
}

func (f fakeEngine) Describe(context.Context) (lease.EngineInfo, error) {
	info := lease.EngineInfo{Host: "unix:///fake.sock", Source: "default", Version: "20.10.24", APIVersion: "1.41"}
	if f.silent {
		info.Version, info.APIVersion = "", ""
	}
	return info, f.err
}

// fakeInterface reports every alias up except those in down.
type fakeInterface struct{ down map[netip.Addr]bool }

func (f fakeInterface) Status(_ context.Context, pool lease.Pool) ([]netif.AliasStatus, error) {
	var out []netif.AliasStatus
	pool.All(func(a netip.Addr) bool {
		out = append(out, netif.AliasStatus{Alias: a, Up: !f.down[a]})
		return true
	})
	return out, nil
}

func TestRun(t *testing.T) {
	a16, a17 := netip.MustParseAddr("127.0.0.16"), netip.MustParseAddr("127.0.0.17")
	tests := []struct {
		name     string
		mode     lease.InventoryMode
		engine   fakeEngine
		leases   []string // slugs acquired first, on .16, .17, ...
		damage   bool     // overwrite the database with text
		down     map[netip.Addr]bool
		pool     string        // the pool doctor is run with, when not the default
		holdLock bool          // an operator's flock holds the lock
		readOnly bool          // the database and lock files are read-only (skipped as root)
		dirMode  os.FileMode   // the database directory is set to this mode, when not zero
		ago      time.Duration // the leases were acquired this long ago
		gcFirst  bool          // one gc (an observation) runs before doctor
		problems []string      // kinds, in order
		check    func(t *testing.T, r *Report)
	}{
		{name: "no database yet, docker answers", mode: lease.InventoryOn,
			check: func(t *testing.T, r *Report) {
				if r.Database.Exists || !strings.HasPrefix(r.Database.Check, "not created yet") || !r.Docker.Reachable {
					t.Errorf("Run() = %+v, %+v; want no database, docker reachable", r.Database, r.Docker)
				}
			}},
		{name: "healthy with a live lease", mode: lease.InventoryOn, leases: []string{"a"},
			engine: fakeEngine{holders: []lease.Holder{{Alias: a16, Name: "a-web", Slug: "a", State: "running"}}},
			check: func(t *testing.T, r *Report) {
				if r.Database.Schema == nil || *r.Database.Schema != lease.SchemaVersion || *r.Database.Leases != 1 || r.Pool.Live != 1 || r.Pool.Free != 15 || !r.Database.Writable {
					t.Errorf("Run() = %+v, %+v; want schema %d, 1 live lease, 15 free", r.Database, r.Pool, lease.SchemaVersion)
				}
			}},
		{name: "foreign and conflicting holders", mode: lease.InventoryOn, leases: []string{"a"},
			engine: fakeEngine{holders: []lease.Holder{
				{Alias: a16, Name: "a-web", Slug: "a", State: "running"},
				{Alias: a16, Name: "b-web", Slug: "b", State: "running"},
				{Alias: a17, Name: "stranger", State: "running"},
			}},
			problems: []string{"conflict", "foreign"},
			check: func(t *testing.T, r *Report) {
				if d := r.Problems[0].Detail; strings.Contains(d, "a-web") || !strings.Contains(d, "b-web") {
					t.Errorf("Run() conflict = %q; want b-web named, not a's own container", d)
				}
			}},
		{name: "wildcard binding nothing of aliaslease uses: a warning, once per port", mode: lease.InventoryOn,
			engine: fakeEngine{holders: []lease.Holder{
				{Alias: netip.IPv4Unspecified(), ID: "c1", Name: "any", Port: "80->80/tcp"},
				{Alias: netip.IPv6Unspecified(), ID: "c1", Name: "any", Port: "80->80/tcp"},
			}},
			check: func(t *testing.T, r *Report) {
				if len(r.Wildcards) != 1 || len(r.Warnings) != 1 || r.Warnings[0].Kind != "wildcard" || !strings.Contains(r.Warnings[0].Detail, "0.0.0.0,::") {
					t.Errorf("Run() wildcards = %+v, warnings %+v; want one wildcard warning naming 0.0.0.0 and ::", r.Wildcards, r.Warnings)
				}
			}},
		{name: "wildcard binding of a labelled container", mode: lease.InventoryOn,
			engine:   fakeEngine{holders: []lease.Holder{{Alias: netip.IPv4Unspecified(), ID: "c1", Name: "b-web", Slug: "b", Port: "80->80/tcp"}}},
			problems: []string{"wildcard"}},
		{name: "wildcard binding on a port a lease's holder publishes", mode: lease.InventoryOn, leases: []string{"a"},
			engine: fakeEngine{holders: []lease.Holder{
				{Alias: a16, ID: "c0", Name: "a-web", Slug: "a", State: "running", Port: "8080->80/tcp"},
				{Alias: netip.IPv4Unspecified(), ID: "c1", Name: "any", Port: "8080->8080/tcp"},
				{Alias: netip.IPv4Unspecified(), ID: "c1", Name: "any", Port: "9090->9090/tcp"},
			}},
			problems: []string{"wildcard"},
			check: func(t *testing.T, r *Report) {
				if !strings.Contains(r.Problems[0].Detail, "8080->8080") || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0].Detail, "9090") {
					t.Errorf("Run() problems = %+v, warnings %+v; want 8080 a problem, 9090 a warning", r.Problems, r.Warnings)
				}
			}},
		{name: "docker fails", mode: lease.InventoryAuto, engine: fakeEngine{err: errors.New("HTTP 500")},
			problems: []string{"docker"}},
		{name: "docker times out", mode: lease.InventoryOn, engine: fakeEngine{err: fmt.Errorf("%w: listing containers: %w", lease.ErrInventory, context.DeadlineExceeded)},
			problems: []string{"docker"},
			check: func(t *testing.T, r *Report) {
				if h := r.Problems[0].Hint; !strings.Contains(h, "--docker-timeout") {
					t.Errorf("Run() docker hint = %q, want --docker-timeout named", h)
				}
			}},
		{name: "docker endpoint written wrong", mode: lease.InventoryAuto,
			engine:   fakeEngine{silent: true, err: fmt.Errorf("%w: \"garbage\" (from DOCKER_HOST): not a URL", lease.ErrEndpoint)},
			problems: []string{"docker"},
			check: func(t *testing.T, r *Report) {
				if h := r.Problems[0].Hint; !strings.HasPrefix(h, "fix --docker-host") || strings.Contains(h, "engine running") {
					t.Errorf("Run() docker hint = %q, want the endpoint to fix, not the engine to start", h)
				}
			}},
		{name: "no engine there under auto", mode: lease.InventoryAuto, leases: []string{"a"},
			engine:   fakeEngine{silent: true, err: fmt.Errorf("%w: dial unix /fake.sock: connect: no such file or directory", lease.ErrNoEngine)},
			problems: []string{"docker"},
			check: func(t *testing.T, r *Report) {
				if h := r.Problems[0].Hint; !strings.Contains(h, "--docker off") || strings.Contains(h, "cannot reclaim") {
					t.Errorf("Run() docker hint = %q, want --docker off named and no claim that gc cannot reclaim", h)
				}
				// Judged as list judges it: nothing there holds it, so pending.
				if r.Pool.Pending != 1 || r.Pool.Unknown != 0 {
					t.Errorf("Run() pool = %+v, want the lease pending as list shows it, not unknown", r.Pool)
				}
			}},
		{name: "no engine there under on", mode: lease.InventoryOn,
			engine:   fakeEngine{silent: true, err: fmt.Errorf("%w: dial unix /fake.sock: connect: no such file or directory", lease.ErrNoEngine)},
			problems: []string{"docker"},
			check: func(t *testing.T, r *Report) {
				if h := r.Problems[0].Hint; !strings.Contains(h, "gc cannot reclaim") {
					t.Errorf("Run() docker hint = %q, want gc cannot reclaim without it", h)
				}
			}},
		{name: "docker off", mode: lease.InventoryOff, leases: []string{"a"},
			check: func(t *testing.T, r *Report) {
				if r.Docker.Mode != "off" || r.Pool.Unknown != 1 {
					t.Errorf("Run() = %+v, %+v; want docker off, one unknown lease", r.Docker, r.Pool)
				}
			}},
		{name: "damaged database", mode: lease.InventoryOff, leases: []string{"a"}, damage: true,
			problems: []string{"database"},
			check: func(t *testing.T, r *Report) {
				if r.Database.Schema != nil || r.Database.Leases != nil || r.Database.Events != nil || r.Pool.Counted {
					t.Errorf("Run() database = %+v, pool %+v; want schema, leases, events and pool counts unknown", r.Database, r.Pool)
				}
			}},
		{name: "foreign holder labelled for an unleased slug", mode: lease.InventoryOn,
			engine:   fakeEngine{holders: []lease.Holder{{Alias: a17, Name: "b-web", Slug: "b", State: "running"}}},
			problems: []string{"foreign"},
			check: func(t *testing.T, r *Report) {
				if h := r.Problems[0].Hint; !strings.Contains(h, "aliaslease acquire b") || strings.Contains(h, "label the bundle") {
					t.Errorf("Run() foreign hint = %q, want adoption by b, not labelling", h)
				}
			}},
		{name: "lease outside the pool", mode: lease.InventoryOff, leases: []string{"a"}, pool: "127.0.0.17-127.0.0.31",
			check: func(t *testing.T, r *Report) {
				if r.Pool.Outside != 1 || r.Pool.Leased != 1 || r.Pool.Free != 15 {
					t.Errorf("Run() pool = %+v; want 1 lease outside the pool, 15 free", r.Pool)
				}
			}},
		{name: "held lock is not waited for", mode: lease.InventoryOff, leases: []string{"a"}, holdLock: true,
			problems: []string{"database"},
			check: func(t *testing.T, r *Report) {
				if !r.Lock.Held || !strings.HasPrefix(r.Database.Check, "not checked") || r.Database.Leases != nil {
					t.Errorf("Run() = %+v, %+v; want the lock held and the database not checked", r.Lock, r.Database)
				}
			}},
		{name: "read-only database", mode: lease.InventoryOff, leases: []string{"a"}, readOnly: true,
			problems: []string{"database"}},
		{name: "database directory writable by others", mode: lease.InventoryOff, leases: []string{"a"}, dirMode: 0o775,
			problems: []string{"lock", "database"},
			check: func(t *testing.T, r *Report) {
				if h := r.Problems[0].Hint; strings.Contains(h, "remove it") {
					t.Errorf("Run() lock hint = %q for an unsafe directory, want no advice to remove the lock file", h)
				}
			}},
		{name: "alias down", mode: lease.InventoryOff, down: map[netip.Addr]bool{a17: true},
			problems: []string{"interface"}},
		{name: "held lock: cannot tell what is foreign", mode: lease.InventoryOn, leases: []string{"a"}, holdLock: true,
			engine:   fakeEngine{holders: []lease.Holder{{Alias: a16, Name: "a-web", Slug: "a", State: "running"}, {Alias: a17, Name: "other", State: "running"}}},
			problems: []string{"database", "pool"},
			check: func(t *testing.T, r *Report) {
				if d := r.Problems[1].Detail; !strings.HasPrefix(d, "cannot tell: 2 pool aliases are held") || r.Pool.Foreign != 0 {
					t.Errorf("Run() = %q, pool %+v; want cannot tell for both held aliases, none called foreign", d, r.Pool)
				}
			}},
		{name: "damaged database: cannot tell what is foreign", mode: lease.InventoryOn, leases: []string{"a"}, damage: true,
			engine:   fakeEngine{holders: []lease.Holder{{Alias: a17, Name: "other", State: "running"}}},
			problems: []string{"database", "pool"}},
		{name: "held only by stopped containers a grace after renewal", mode: lease.InventoryOn, leases: []string{"a"}, ago: time.Hour,
			engine: fakeEngine{holders: []lease.Holder{{Alias: a16, Name: "a-web", Slug: "a", State: "exited"}}},
			check: func(t *testing.T, r *Report) {
				if len(r.Warnings) != 1 || r.Warnings[0].Kind != "exited" || !strings.Contains(r.Warnings[0].Detail, "a-web") || r.Pool.Live != 1 {
					t.Errorf("Run() warnings = %+v, pool %+v; want a's bundle named, the lease still live", r.Warnings, r.Pool)
				}
			}},
		{name: "stopped containers within a grace of renewal", mode: lease.InventoryOn, leases: []string{"a"},
			engine: fakeEngine{holders: []lease.Holder{{Alias: a16, Name: "a-web", Slug: "a", State: "exited"}}},
			check: func(t *testing.T, r *Report) {
				if len(r.Warnings) != 0 {
					t.Errorf("Run() warnings = %+v, want none", r.Warnings)
				}
			}},
		{name: "a vacant lease says when it can be stale", mode: lease.InventoryOn, leases: []string{"a"}, ago: time.Hour, gcFirst: true,
			check: func(t *testing.T, r *Report) {
				if len(r.Vacant) != 1 || r.Vacant[0].Slug != "a" || r.Vacant[0].Observations != 1 || r.Vacant[0].MoreObservations != 2 ||
					time.Until(r.Vacant[0].StaleFrom) < lease.DefaultGrace-time.Minute || time.Until(r.Vacant[0].StaleFrom) > lease.DefaultGrace {
					t.Errorf("Run() vacant = %+v; want a, 1 observation, 2 more, stale from about a grace from now", r.Vacant)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &lease.Manager{
				Path:        filepath.Join(t.TempDir(), "leases.db"),
				Pool:        lease.MustParsePool(lease.DefaultPool),
				LockTimeout: time.Second,
				Grace:       lease.DefaultGrace,
				Mode:        lease.InventoryOff,
			}
			m.Now = func() time.Time { return time.Now().Add(-tt.ago) }
			for _, slug := range tt.leases {
				if _, err := m.Acquire(context.Background(), slug, 0); err != nil {
					t.Fatalf("Acquire(%q) = %v", slug, err)
				}
			}
			m.Now = nil
			if tt.damage {
				if err := os.WriteFile(m.Path, []byte("not a database\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			m.Mode, m.Inventory = tt.mode, tt.engine
			if tt.gcFirst {
				if _, err := m.GC(context.Background(), false); err != nil {
					t.Fatalf("GC() = %v", err)
				}
			}
			if tt.pool != "" {
				m.Pool = lease.MustParsePool(tt.pool)
			}
			if tt.holdLock {
				lk := flock.New(m.Path + ".lock")
				if ok, err := lk.TryLock(); !ok || err != nil {
					t.Fatalf("TryLock = %v, %v", ok, err)
				}
				defer lk.Unlock()
			}
			if tt.readOnly {
				if os.Geteuid() == 0 {
					t.Skip("root may write any file")
				}
				for _, p := range []string{m.Path, m.Path + ".lock"} {
					if err := os.Chmod(p, 0o400); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tt.dirMode != 0 {
				if err := os.Chmod(filepath.Dir(m.Path), tt.dirMode); err != nil {
					t.Fatal(err)
				}
				defer os.Chmod(filepath.Dir(m.Path), 0o700)
			}
			r := Run(context.Background(), Config{Manager: m, Interface: fakeInterface{tt.down}, StuckAfter: time.Minute})
			var kinds []string
			for _, p := range r.Problems {
				kinds = append(kinds, p.Kind)
			}
			if got, want := strings.Join(kinds, ","), strings.Join(tt.problems, ","); got != want {
				t.Errorf("Run() problems = %q (%+v), want %q", got, r.Problems, want)
			}
			if r.Healthy() != (len(tt.problems) == 0) {
				t.Errorf("Run().Healthy() = %v with problems %v", r.Healthy(), kinds)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}
