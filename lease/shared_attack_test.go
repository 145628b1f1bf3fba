package lease

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSharedGraceIsTheClaimOwners: another database's --grace 0s does not
// make a claim stale at once; the claim's own database's grace counts
// too. A lease held only by a run's process tree has no holder another
// user can see, so before the claim carried its grace, one user's
// "acquire --grace 0s" took the alias of another user's bottle that had
// started a second before.
func TestSharedGraceIsTheClaimOwners(t *testing.T) {
	first := netip.MustParseAddr("127.0.77.16")
	for _, tc := range []struct {
		name       string
		ownerGrace time.Duration
		taken      bool // the other database, grace 0, takes the alias
	}{
		{"owner's grace 10m", DefaultGrace, false},
		{"owner's grace 0", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shared := sharedPlaceForTest(t)
			ms := sharingManagers(t, shared, &fakeInventory{}, 2)
			ctx := context.Background()
			ms[0].Grace, ms[1].Grace = tc.ownerGrace, 0
			a, err := ms[0].Acquire(ctx, "a", 0)
			if err != nil || a.Lease.Alias != first {
				t.Fatalf("Acquire(a) = %v, %v, want %v", a.Lease.Alias, err, first)
			}
			b, err := ms[1].Acquire(ctx, "b", 0)
			if err != nil || (b.Lease.Alias == first) != tc.taken {
				t.Fatalf("Acquire(b) with grace 0 beside a claim of grace %v = %v, %v, want taken %v", tc.ownerGrace, b.Lease.Alias, err, tc.taken)
			}
		})
	}
}

// TestSharedClaimGraceRecord: a claim records its database's grace; one
// written without it (by the first binaries of #29) has DefaultGrace.
func TestSharedClaimGraceRecord(t *testing.T) {
	c := claim{Alias: netip.MustParseAddr("127.0.77.16"), UID: 7, DB: "/d", Slug: "s", Generation: 1, Seq: 1, Grace: 90 * time.Second}
	for _, tc := range []struct {
		name string
		rec  []byte
		want time.Duration
	}{
		{"written now", encodeClaim(c), 90 * time.Second},
		{"without grace", []byte("aliaslease-claim 1\nalias 127.0.77.16\nuid 7\ndb \"/d\"\nslug s\ngeneration 1\nseq 1\nrenewed 0\nheld 0\n"), DefaultGrace},
	} {
		got, err := parseClaim(tc.rec)
		if err != nil || got.Grace != tc.want {
			t.Errorf("parseClaim(%s) = grace %v, %v, want %v", tc.name, got.Grace, err, tc.want)
		}
	}
}

// TestSharedLeftoversPlantedDirectories: root's cleanup removes a
// directory planted at a claim's name, and one it cannot remove (not
// empty) does not stop it removing the rest; what is in it is left alone.
func TestSharedLeftoversPlantedDirectories(t *testing.T) {
	shared := sharedPlaceForTest(t)
	ms := sharingManagers(t, shared, nil, 1)
	empty := filepath.Join(shared, "127.0.77.16@4242")
	full := filepath.Join(shared, "127.0.77.17@4242")
	fifo := filepath.Join(shared, "127.0.77.18@4242")
	link := filepath.Join(shared, "127.0.77.19@4242")
	inside := filepath.Join(full, "kept")
	for _, err := range []error{os.Mkdir(empty, 0o755), os.Mkdir(full, 0o755), os.WriteFile(inside, []byte("x"), 0o600),
		unix.Mkfifo(fifo, 0o644), os.Symlink(inside, link)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := ms[0].SharedLeftovers(context.Background(), false)
	if err == nil || len(got) != 3 {
		t.Fatalf("SharedLeftovers() = %q, %v, want the empty directory, the FIFO and the link removed and an error for %s", got, err, full)
	}
	for _, p := range []string{empty, fifo, link} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after SharedLeftovers: %v, want it removed", p, err)
		}
	}
	if b, err := os.ReadFile(inside); err != nil || string(b) != "x" {
		t.Errorf("%s after SharedLeftovers = %q, %v, want it untouched", inside, b, err)
	}
}

// TestSharedHeldLeaseNotGivenUp: a later claim on the alias of a lease
// this database sees held (its labelled container here; a run's tree
// alike), or of one it renewed within its grace, does not make its
// renewal give the lease up: no judge could have found it stale. A
// member could write such a claim by hand (any sequence), and, once it
// removed it, be handed the alias under the bottle that still ran on it.
func TestSharedHeldLeaseNotGivenUp(t *testing.T) {
	first := netip.MustParseAddr("127.0.77.16")
	for _, tc := range []struct {
		name    string
		grace   time.Duration
		holders []Holder
		kept    bool
	}{
		{"held by its container", 0, []Holder{{Alias: first, ID: "c1", Name: "a-1", Slug: "a", State: "running"}}, true},
		{"renewed within its grace", DefaultGrace, nil, true},
		{"no holder, grace 0", 0, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shared := sharedPlaceForTest(t)
			inv := &fakeInventory{}
			ms := sharingManagers(t, shared, inv, 1)
			ctx := context.Background()
			ms[0].Grace = tc.grace
			a, err := ms[0].Acquire(ctx, "a", 0)
			if err != nil || a.Lease.Alias != first {
				t.Fatalf("Acquire(a) = %v, %v, want %v", a.Lease.Alias, err, first)
			}
			inv.holders = tc.holders
			other := writeClaim(t, shared, claim{Alias: first, UID: 4242, DB: "/home/u2/l.db", Slug: "q", Generation: 1, Seq: 99, Renewed: time.Now()})
			os.Chown(other, 4242, testGID)
			ms[0].Grace = DefaultGrace // judged with a's claim's own grace; the other claim stands
			r, err := ms[0].Acquire(ctx, "a", 0)
			if err != nil || (r.Lease.Alias == first) != tc.kept {
				t.Fatalf("Acquire(a) %s, beside a later claim on its alias = %v %v, %v, want kept %v", tc.name, r.Lease.Alias, r.Outcome, err, tc.kept)
			}
		})
	}
}

// TestSharedSameUserTakeover: two databases of one user share one claim
// entry per alias, so a takeover by one writes over the other's claim;
// the other's next renewal gives the lease up as it does for another
// user's later claim. Before, it found no claim of its own, took the
// one there for a conflict older than the place, and renewed the lease
// beside the other database's on the same alias, at every acquire.
func TestSharedSameUserTakeover(t *testing.T) {
	shared := sharedPlaceForTest(t)
	ms := sharingManagers(t, shared, &fakeInventory{}, 2)
	ctx := context.Background()
	first := netip.MustParseAddr("127.0.77.16")
	ms[0].Grace, ms[1].Grace = 0, 0
	if a, err := ms[0].Acquire(ctx, "a", 0); err != nil || a.Lease.Alias != first {
		t.Fatalf("Acquire(a) = %v, %v, want %v", a.Lease.Alias, err, first)
	}
	if b, err := ms[1].Acquire(ctx, "b", 0); err != nil || b.Lease.Alias != first {
		t.Fatalf("Acquire(b), grace 0, over a's claim of grace 0 = %v, %v, want %v taken over", b.Lease.Alias, err, first)
	}
	ms[0].Grace = DefaultGrace // else b's claim, of grace 0, is stale to a at once
	a, err := ms[0].Acquire(ctx, "a", 0)
	if err != nil || a.Lease.Alias == first {
		t.Fatalf("Acquire(a) after another database of its user took %v over = %v %v, %v, want a new alias", first, a.Lease.Alias, a.Outcome, err)
	}
}

// TestSharedSupersededWithNoAliasLeft: a renewal that gives its lease up to
// a later claim gives it up even when no other alias is free (the
// acquire fails, pool exhausted). Before, the whole transaction was
// undone: the lease stayed on the alias another database had taken over,
// renewed there by the next acquire that found the pool full again.
func TestSharedSupersededWithNoAliasLeft(t *testing.T) {
	shared := sharedPlaceForTest(t)
	ms := sharingManagers(t, shared, &fakeInventory{}, 1)
	m, ctx := ms[0], context.Background()
	first := netip.MustParseAddr("127.0.77.16")
	m.Pool = MustParsePool(first.String())
	m.Grace = 0 // a's claim may be found stale at once
	if a, err := m.Acquire(ctx, "a", 0); err != nil || a.Lease.Alias != first {
		t.Fatalf("Acquire(a) = %v, %v, want %v", a.Lease.Alias, err, first)
	}
	other := writeClaim(t, shared, claim{Alias: first, UID: 4242, DB: "/home/u2/l.db", Slug: "q", Generation: 1, Seq: 99, Renewed: time.Now(), Grace: DefaultGrace})
	os.Chown(other, 4242, testGID)
	m.Grace = DefaultGrace
	if r, err := m.Acquire(ctx, "a", 0); !errors.Is(err, ErrExhausted) {
		t.Fatalf("Acquire(a) after its only alias was taken over = %v, %v, want ErrExhausted", r.Lease.Alias, err)
	}
	if l, err := m.Lease(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lease(a) after it was given up = %v, %v, want ErrNotFound", l.Alias, err)
	}
}
