package lease

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testGID is the group of the test's shared places: any gid but root's
// will do, the group need not exist.
const testGID = 54321

// sharedPlaceForTest makes a shared place as share does, in a directory
// of the test's own; it needs root.
func sharedPlaceForTest(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a shared place is root's to make")
	}
	dir := filepath.Join(t.TempDir(), "run", "shared")
	if made, err := MakeShared(dir, testGID); err != nil || !made {
		t.Fatalf("MakeShared(%q) = %v, %v, want true, nil", dir, made, err)
	}
	return dir
}

// sharingManagers are n managers of databases of their own, one pool,
// one shared place, Docker as inv says.
func sharingManagers(t *testing.T, shared string, inv Inventory, n int) []*Manager {
	t.Helper()
	var ms []*Manager
	for range n {
		mode := InventoryOff
		if inv != nil {
			mode = InventoryOn
		}
		m, _ := testManager(t, inv, mode)
		m.Pool = MustParsePool("127.0.77.16-127.0.77.47")
		m.Shared = shared
		ms = append(ms, m)
	}
	return ms
}

func TestSharedNoAliasTwice(t *testing.T) {
	shared := sharedPlaceForTest(t)
	ms := sharingManagers(t, shared, nil, 2)
	ctx := context.Background()
	a, err := ms[0].Acquire(ctx, "a", 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ms[1].Acquire(ctx, "b", 0)
	if err != nil {
		t.Fatal(err)
	}
	if a.Lease.Alias == b.Lease.Alias {
		t.Fatalf("Acquire(a) in one database and Acquire(b) in another both = %v, want two aliases", a.Lease.Alias)
	}
	if _, err := ms[0].Release(ctx, "a", 0); err != nil {
		t.Fatal(err)
	}
	c, err := ms[1].Acquire(ctx, "c", 0)
	if err != nil || c.Lease.Alias != a.Lease.Alias {
		t.Fatalf("Acquire(c) after the other database released %v = %v, %v, want that alias", a.Lease.Alias, c.Lease.Alias, err)
	}
	if r, err := ms[1].Acquire(ctx, "b", 0); err != nil || r.Lease.Alias != b.Lease.Alias || r.Outcome != OutcomeRenewed {
		t.Fatalf("Acquire(b) again = %v %v, %v, want %v renewed", r.Lease.Alias, r.Outcome, err, b.Lease.Alias)
	}
}

func TestSharedConcurrent(t *testing.T) {
	shared := sharedPlaceForTest(t)
	ms := sharingManagers(t, shared, nil, 2)
	for _, m := range ms {
		m.LockTimeout = 30 * time.Second // under a loaded machine's test run too: a test of what is given, not of speed
	}
	var mu sync.Mutex
	got := map[netip.Addr]string{}
	var wg sync.WaitGroup
	for i, m := range ms {
		for j := range 16 {
			wg.Go(func() {
				slug := string(rune('a'+i)) + "-" + string(rune('a'+j))
				r, err := m.Acquire(context.Background(), slug, 0)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("Acquire(%q) = %v", slug, err)
					return
				}
				if other, dup := got[r.Lease.Alias]; dup {
					t.Errorf("Acquire(%q) = %v, which %q was given too", slug, r.Lease.Alias, other)
				}
				got[r.Lease.Alias] = slug
			})
		}
	}
	wg.Wait()
	if len(got) != 32 {
		t.Errorf("32 acquires gave %d aliases, want 32", len(got))
	}
}

// writeClaim puts a claim in the place as if a database had written it.
func writeClaim(t *testing.T, shared string, c claim) string {
	t.Helper()
	name := filepath.Join(shared, claimName(c.Alias, c.UID))
	if err := os.WriteFile(name, encodeClaim(c), 0o640); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestSharedOrphanAndStaleClaims(t *testing.T) {
	shared := sharedPlaceForTest(t)
	inv := &fakeInventory{}
	ms := sharingManagers(t, shared, inv, 2)
	ctx := context.Background()
	first := netip.MustParseAddr("127.0.77.16")
	abs0, _ := dbIdentity(ms[0].Path) // as the database names itself in its claims
	old := time.Now().Add(-time.Hour)
	if _, err := ms[0].Acquire(ctx, "x", 0); err != nil { // database 0 exists
		t.Fatal(err)
	}
	ms[0].Release(ctx, "x", 0)
	// An acquire of database 0 killed between its claim and its commit.
	orphan := writeClaim(t, shared, claim{Alias: first, UID: 0, DB: abs0, Slug: "gone", Generation: 7, Seq: 1, Renewed: old})
	r, err := ms[1].Acquire(ctx, "b", 0)
	if err != nil || r.Lease.Alias == first {
		t.Fatalf("Acquire(b) in another database = %v, %v, want an alias but %v (claimed, not yet observed vacant)", r.Lease.Alias, err, first)
	}
	ms[1].Release(ctx, "b", 0)
	// Its own database knows the claim has no lease: it takes the alias at once.
	r, err = ms[0].Acquire(ctx, "a", 0)
	if err != nil || r.Lease.Alias != first {
		t.Fatalf("Acquire(a) in the orphan's own database = %v, %v, want %v", r.Lease.Alias, err, first)
	}
	b, _ := os.ReadFile(orphan)
	if c, err := parseClaim(b); err != nil || c.Slug != "a" || c.Seq != 2 {
		t.Fatalf("claim after Acquire(a) = %+v, %v, want a's, sequence 2", c, err)
	}
	// Another database takes a stale claim over, by the vacancy rule.
	ms[0].Release(ctx, "a", 0)
	other := writeClaim(t, shared, claim{Alias: first, UID: 4242, DB: "/home/u2/l.db", Slug: "s", Generation: 1, Seq: 5, Renewed: old})
	os.Chown(other, 4242, testGID)
	if r, err := ms[1].Acquire(ctx, "c0", 0); err != nil || r.Lease.Alias == first {
		t.Fatalf("Acquire(c0) over another user's claim, grace 10m = %v, %v, want another alias", r.Lease.Alias, err)
	}
	ms[1].Grace = 0
	r, err = ms[1].Acquire(ctx, "c", 0)
	if err != nil || r.Lease.Alias != first {
		t.Fatalf("Acquire(c) with --grace 0 over a stale claim = %v, %v, want %v", r.Lease.Alias, err, first)
	}
	b, _ = os.ReadFile(filepath.Join(shared, claimName(first, 0)))
	if c, err := parseClaim(b); err != nil || c.Slug != "c" || c.Seq != 6 {
		t.Fatalf("claim after Acquire(c) = %+v, %v, want c's, sequence 6 (above the stale one)", c, err)
	}
}

func TestSharedRefused(t *testing.T) {
	shared := sharedPlaceForTest(t)
	ms := sharingManagers(t, shared, nil, 1)
	for _, tc := range []struct {
		name string
		mode os.FileMode
		uid  int
		says string
	}{
		{"mode 0777", 0o777 | os.ModeSticky, 0, "has mode 1777"},
		{"another owner", os.ModeSetgid | os.ModeSticky | 0o770, 4242, "is owned by uid 4242"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Chown(shared, tc.uid, testGID)
			os.Chmod(shared, tc.mode)
			defer func() { os.Chown(shared, 0, testGID); os.Chmod(shared, os.ModeSetgid|os.ModeSticky|0o770) }()
			// The place is named in its own words, never as the database.
			want := "shared place " + shared + " " + tc.says
			if _, err := ms[0].Acquire(context.Background(), "a", 0); !errors.Is(err, ErrUnsafePath) || !strings.HasPrefix(fmt.Sprint(err), want) {
				t.Fatalf("Acquire with a shared place of %s = %v, want ErrUnsafePath saying %q", tc.name, err, want)
			}
			if st, err := ms[0].SharedReview(context.Background()); err != nil || st.State != SharedUnsafe || !strings.HasPrefix(fmt.Sprint(st.Err), want) {
				t.Fatalf("SharedReview() with a shared place of %s = %v %v, %v, want unsafe saying %q", tc.name, st.State, st.Err, err, want)
			}
		})
	}
}

func TestSharedPlantedLink(t *testing.T) {
	shared := sharedPlaceForTest(t)
	ms := sharingManagers(t, shared, nil, 1)
	target := filepath.Join(t.TempDir(), "target")
	os.WriteFile(target, []byte("untouched"), 0o600)
	first := netip.MustParseAddr("127.0.77.16")
	if err := os.Symlink(target, filepath.Join(shared, claimName(first, 0))); err != nil {
		t.Fatal(err)
	}
	r, err := ms[0].Acquire(context.Background(), "a", 0)
	if err != nil || r.Lease.Alias == first {
		t.Fatalf("Acquire(a) with a link planted at %v's claim = %v, %v, want another alias", first, r.Lease.Alias, err)
	}
	if b, _ := os.ReadFile(target); string(b) != "untouched" {
		t.Fatalf("the link's target = %q, want it untouched", b)
	}
	st, err := ms[0].SharedReview(context.Background())
	link := filepath.Join(shared, claimName(first, 0)) + " is a symbolic link, not a regular file"
	if err != nil || len(st.Problems) != 1 || st.Problems[0] != link {
		t.Fatalf("SharedReview() = %+v, %v, want the problem %q", st, err, link)
	}
}

func TestSharedAdoptionRespectsOwners(t *testing.T) {
	shared := sharedPlaceForTest(t)
	first := netip.MustParseAddr("127.0.77.16")
	for _, tc := range []struct {
		name   string
		owner  string
		claim  bool
		adopts bool
	}{
		{"unlabelled, unclaimed", "", false, true},
		{"labelled for this user", "0", false, true},
		{"labelled for another user", "4242", false, false},
		{"unlabelled, claimed by another database", "", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := &fakeInventory{holders: []Holder{{Alias: first, ID: "c1", Name: "web-1", Slug: "web", Owner: tc.owner, State: "exited"}}}
			ms := sharingManagers(t, shared, inv, 1)
			name := filepath.Join(shared, claimName(first, 4242))
			if tc.claim {
				writeClaim(t, shared, claim{Alias: first, UID: 4242, DB: "/home/u2/l.db", Slug: "web", Generation: 1, Seq: 1, Renewed: time.Now()})
				os.Chown(name, 4242, testGID)
			}
			defer os.Remove(name)
			r, err := ms[0].Acquire(context.Background(), "web", 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Outcome == OutcomeAdopted && r.Lease.Alias == first; got != tc.adopts {
				t.Fatalf("Acquire(web) = %v %v, adopted %v, want %v", r.Lease.Alias, r.Outcome, got, tc.adopts)
			}
		})
	}
}

func FuzzParseClaim(f *testing.F) {
	f.Add(encodeClaim(claim{Alias: netip.MustParseAddr("127.0.0.16"), UID: 1001, DB: "/home/u1/l.db", Slug: "web", Generation: 3, Seq: 2, Renewed: time.Unix(1, 0)}))
	f.Add([]byte(claimHeader + "\nalias 127.0.0.16\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseClaim(b)
		if err != nil {
			return
		}
		again, err := parseClaim(encodeClaim(c))
		if err != nil || again.Alias != c.Alias || again.DB != c.DB || again.Seq != c.Seq || !again.Renewed.Equal(c.Renewed) {
			t.Fatalf("parseClaim(encodeClaim(%+v)) = %+v, %v", c, again, err)
		}
	})
}

func TestSharedSupersededRenewal(t *testing.T) {
	shared := sharedPlaceForTest(t)
	ms := sharingManagers(t, shared, &fakeInventory{}, 1)
	ctx := context.Background()
	ms[0].Grace = 0 // a's claim may be found stale at once
	a, err := ms[0].Acquire(ctx, "a", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Another user's database took a's alias over while a was vacant.
	other := writeClaim(t, shared, claim{Alias: a.Lease.Alias, UID: 4242, DB: "/home/u2/l.db", Slug: "b", Generation: 1, Seq: 2, Renewed: time.Now()})
	os.Chown(other, 4242, testGID)
	ms[0].Grace = DefaultGrace // the other claim, just written, stands
	r, err := ms[0].Acquire(ctx, "a", 0)
	if err != nil || r.Lease.Alias == a.Lease.Alias || r.Outcome != OutcomeNew {
		t.Fatalf("Acquire(a) after its alias was taken over = %v %v, %v, want a new lease elsewhere", r.Lease.Alias, r.Outcome, err)
	}
	if _, err := os.Lstat(filepath.Join(shared, claimName(a.Lease.Alias, 0))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a's old claim: %v, want it removed", err)
	}
}

func TestSharedVacancyRuleAndGC(t *testing.T) {
	shared := sharedPlaceForTest(t)
	ms := sharingManagers(t, shared, &fakeInventory{}, 1)
	m, ctx := ms[0], context.Background()
	first := netip.MustParseAddr("127.0.77.16")
	// A lease made before the place: gc claims it.
	m.Shared = ""
	old, err := m.Acquire(ctx, "old", 0)
	if err != nil {
		t.Fatal(err)
	}
	m.Shared = shared
	if _, err := m.GC(ctx, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(shared, claimName(old.Lease.Alias, 0))); err != nil {
		t.Fatalf("claim of a lease made before the place, after gc: %v", err)
	}
	m.Release(ctx, "old", 0)
	// Another user's claim, renewed long ago, with no holder: stale after
	// three observations over the grace, not before.
	other := writeClaim(t, shared, claim{Alias: first, UID: 4242, DB: "/home/u2/l.db", Slug: "s", Generation: 1, Seq: 1, Renewed: time.Now().Add(-time.Hour)})
	os.Chown(other, 4242, testGID)
	m.Grace = 20 * time.Millisecond
	if _, err := m.GC(ctx, false); err != nil { // the first observation
		t.Fatal(err)
	}
	if r, err := m.Acquire(ctx, "x", 0); err != nil || r.Lease.Alias == first { // the second
		t.Fatalf("Acquire(x) at the second vacant observation = %v, %v, want another alias than %v", r.Lease.Alias, err, first)
	}
	m.Release(ctx, "x", 0)
	time.Sleep(2 * m.Grace)
	if r, err := m.Acquire(ctx, "y", 0); err != nil || r.Lease.Alias != first { // the third, a grace after the first
		t.Fatalf("Acquire(y) at the third vacant observation, a grace after the first = %v, %v, want %v", r.Lease.Alias, err, first)
	}
}

func TestSharedLeftovers(t *testing.T) {
	shared := sharedPlaceForTest(t)
	ms := sharingManagers(t, shared, nil, 1)
	gone := writeClaim(t, shared, claim{Alias: netip.MustParseAddr("127.0.77.20"), UID: 0, DB: "/nonexistent/gone.db", Slug: "g", Generation: 1, Seq: 1, Renewed: time.Now()})
	aside := filepath.Join(shared, ".127.0.77.21@0.creating-0123")
	os.WriteFile(aside, nil, 0o600)
	link := filepath.Join(shared, "127.0.77.22@4242")
	os.Symlink("/etc/passwd", link)
	kept := writeClaim(t, shared, claim{Alias: netip.MustParseAddr("127.0.77.23"), UID: 0, DB: ms[0].Path, Slug: "k", Generation: 1, Seq: 1, Renewed: time.Now()})
	os.WriteFile(ms[0].Path, nil, 0o600) // its database is there
	got, err := ms[0].SharedLeftovers(context.Background(), false)
	want := []string{gone, link, aside}
	if err != nil || len(got) != len(want) {
		t.Fatalf("SharedLeftovers() = %q, %v, want %q", got, err, want)
	}
	for _, p := range want {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after SharedLeftovers: %v, want it removed", p, err)
		}
	}
	if _, err := os.Lstat(kept); err != nil {
		t.Errorf("claim of a database that is there, after SharedLeftovers: %v, want it kept", err)
	}
	if _, err := os.Lstat("/etc/passwd"); err != nil {
		t.Errorf("the link's target: %v", err)
	}
}
