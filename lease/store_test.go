package lease

import (
	"bytes"
	"context"
	"errors"
	bolt "go.etcd.io/bbolt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func openTest(t *testing.T, path string) *store {
	t.Helper()
	s, err := openStore(path, &storeOptions{Create: true, LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustAcquire(t *testing.T, s *store, req acquireRequest) AcquireResult {
	t.Helper()
	if req.Now.IsZero() {
		req.Now = t0
	}
	if req.Pool.Len() == 0 {
		req.Pool = MustParsePool(DefaultPool)
	}
	res, err := s.Acquire(req)
	if err != nil {
		t.Fatalf("Acquire(%q) = %v", req.Slug, err)
	}
	return res
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestAcquireLowestFreeAndRenew(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "leases.db"))
	for i, slug := range []string{"a", "b", "c"} {
		res := mustAcquire(t, s, acquireRequest{Slug: slug})
		want := netip.AddrFrom4([4]byte{127, 0, 0, byte(16 + i)})
		if res.Lease.Alias != want || res.Outcome != OutcomeNew || res.Lease.Generation != uint64(i+1) {
			t.Errorf("Acquire(%q) = %+v, want %s, new, generation %d", slug, res, want, i+1)
		}
	}
	later := t0.Add(time.Hour)
	res := mustAcquire(t, s, acquireRequest{Slug: "b", Now: later})
	if res.Lease.Alias != addr("127.0.0.17") || res.Outcome != OutcomeRenewed || res.Lease.Generation != 2 ||
		!res.Lease.RenewedAt.Equal(later) || !res.Lease.AcquiredAt.Equal(t0) {
		t.Errorf("Acquire(%q) again = %+v, want same alias and generation, renewed at %v", "b", res, later)
	}
	// Releasing the middle one frees the lowest hole for the next slug.
	if _, err := s.Release("b", 0); err != nil {
		t.Fatalf("Release(%q) = %v", "b", err)
	}
	if res := mustAcquire(t, s, acquireRequest{Slug: "d"}); res.Lease.Alias != addr("127.0.0.17") || res.Lease.Generation != 4 {
		t.Errorf("Acquire(%q) = %+v, want 127.0.0.17 generation 4", "d", res.Lease)
	}
	got, err := s.Get("b")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(%q) = %+v, %v, want ErrNotFound", "b", got, err)
	}
}

func TestGenerationNeverReused(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "leases.db"))
	var last uint64
	for i := 0; i < 20; i++ {
		res := mustAcquire(t, s, acquireRequest{Slug: "same"})
		if res.Lease.Generation <= last {
			t.Fatalf("round %d: generation %d after %d", i, res.Lease.Generation, last)
		}
		last = res.Lease.Generation
		if _, err := s.Release("same", res.Lease.Generation); err != nil {
			t.Fatalf("Release(%q, %d) = %v", "same", last, err)
		}
	}
}

func TestReleaseGeneration(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "leases.db"))
	first := mustAcquire(t, s, acquireRequest{Slug: "a"}).Lease
	if _, err := s.Release("a", first.Generation); err != nil {
		t.Fatalf("Release(%q, %d) = %v", "a", first.Generation, err)
	}
	second := mustAcquire(t, s, acquireRequest{Slug: "a"}).Lease
	// A late release naming the first generation must not free the second.
	_, err := s.Release("a", first.Generation)
	if !errors.Is(err, ErrGenerationMismatch) || !strings.Contains(err.Error(), "generation 2") {
		t.Errorf("Release(%q, %d) = %v, want ErrGenerationMismatch naming generation 2", "a", first.Generation, err)
	}
	if got, err := s.Get("a"); err != nil || !reflect.DeepEqual(got, second) {
		t.Errorf("Get(%q) = %+v, %v, want %+v", "a", got, err, second)
	}
	if l, err := s.Release("a", second.Generation); err != nil || l.Alias != second.Alias {
		t.Errorf("Release(%q, %d) = %+v, %v, want %s", "a", second.Generation, l, err, second.Alias)
	}
	if _, err := s.Release("a", 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("Release(%q) of no lease = %v, want ErrNotFound", "a", err)
	}
	m := &Manager{Path: s.path, Pool: MustParsePool(DefaultPool)}
	if _, err := m.Release(context.Background(), "a b", 0); !errors.Is(err, ErrInvalidSlug) {
		t.Errorf("Release(%q) = %v, want ErrInvalidSlug", "a b", err)
	}
}

func TestAliasLeftThePool(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "leases.db"))
	wide := MustParsePool("127.0.0.16-127.0.0.20")
	for _, slug := range []string{"a", "b", "c"} {
		mustAcquire(t, s, acquireRequest{Slug: slug, Pool: wide})
	}
	// The pool shrinks to .16-.17 and then moves to .17-.18: c keeps .18
	// (renewed, though outside the pool), and nobody else gets it.
	narrow := MustParsePool("127.0.0.17-127.0.0.18")
	res := mustAcquire(t, s, acquireRequest{Slug: "c", Pool: narrow, Now: t0.Add(time.Minute)})
	if res.Lease.Alias != addr("127.0.0.18") || res.Outcome != OutcomeRenewed {
		t.Errorf("Acquire(%q) = %+v, want renewed 127.0.0.18", "c", res)
	}
	if _, err := s.Release("a", 0); err != nil {
		t.Fatal(err)
	}
	_, err := s.Acquire(acquireRequest{Slug: "d", Pool: narrow, Now: t0})
	if !errors.Is(err, ErrExhausted) {
		t.Errorf("Acquire(%q) = %v, want ErrExhausted (.17 and .18 are leased)", "d", err)
	}
	if got, _ := s.Get("c"); got.Alias != addr("127.0.0.18") {
		t.Errorf("Get(%q) = %+v, want it kept on 127.0.0.18", "c", got)
	}
}

func TestExhausted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	s := openTest(t, path)
	pool := MustParsePool("127.0.0.16-127.0.0.19")
	for _, slug := range []string{"a", "b", "c", "d"} {
		mustAcquire(t, s, acquireRequest{Slug: slug, Pool: pool})
	}
	before := readFile(t, path)
	_, err := s.Acquire(acquireRequest{Slug: "e", Pool: pool, Now: t0})
	if !errors.Is(err, ErrExhausted) {
		t.Fatalf("Acquire(%q) = %v, want ErrExhausted", "e", err)
	}
	if !bytes.Equal(before, readFile(t, path)) {
		t.Errorf("a failed Acquire changed the database file")
	}
	// A renewal still works on a full pool.
	if res := mustAcquire(t, s, acquireRequest{Slug: "c", Pool: pool}); res.Outcome != OutcomeRenewed {
		t.Errorf("Acquire(%q) on a full pool = %+v, want renewed", "c", res)
	}
}

func TestRenewOnlyWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	s := openTest(t, path)
	mustAcquire(t, s, acquireRequest{Slug: "a"})
	before := readFile(t, path)
	_, err := s.Acquire(acquireRequest{Slug: "b", Pool: MustParsePool(DefaultPool), Now: t0, RenewOnly: true})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Acquire(%q, RenewOnly) = %v, want ErrNotFound", "b", err)
	}
	if !bytes.Equal(before, readFile(t, path)) {
		t.Errorf("RenewOnly of a slug without a lease changed the file")
	}
}

func TestAcquireWithSnapshot(t *testing.T) {
	pool := MustParsePool("127.0.0.16-127.0.0.20")
	tests := []struct {
		name      string
		leases    map[string]time.Duration // slug -> age of its lease at snapshot time
		holders   []Holder
		slug      string
		want      string
		outcome   Outcome
		reclaimed []string
	}{
		{
			name:    "foreign holder skipped",
			holders: []Holder{{Alias: addr("127.0.0.16"), Name: "other"}},
			slug:    "a", want: "127.0.0.17", outcome: OutcomeNew,
		},
		{
			name:    "wildcard binding blocks nothing",
			holders: []Holder{{Alias: netip.IPv4Unspecified(), Name: "wild"}},
			slug:    "a", want: "127.0.0.16", outcome: OutcomeNew,
		},
		{
			name:   "stale lease reclaimed and reused",
			leases: map[string]time.Duration{"old": time.Hour},
			slug:   "a", want: "127.0.0.16", outcome: OutcomeNew, reclaimed: []string{"old"},
		},
		{
			name:   "pending lease kept",
			leases: map[string]time.Duration{"young": time.Minute},
			slug:   "a", want: "127.0.0.17", outcome: OutcomeNew,
		},
		{
			name:    "live lease kept",
			leases:  map[string]time.Duration{"busy": time.Hour},
			holders: []Holder{{Alias: addr("127.0.0.16"), Name: "busy-1"}},
			slug:    "a", want: "127.0.0.17", outcome: OutcomeNew,
		},
		{
			name:    "labelled container adopted",
			holders: []Holder{{Alias: addr("127.0.0.19"), Slug: "a"}, {Alias: addr("127.0.0.18"), Slug: "a"}},
			slug:    "a", want: "127.0.0.18", outcome: OutcomeAdopted,
		},
		{
			name:    "labelled container outside the pool not adopted",
			holders: []Holder{{Alias: addr("127.0.0.40"), Slug: "a"}},
			slug:    "a", want: "127.0.0.16", outcome: OutcomeNew,
		},
		{
			name:    "alias leased to another slug not adopted",
			leases:  map[string]time.Duration{"first": 0},
			holders: []Holder{{Alias: addr("127.0.0.16"), Slug: "a"}},
			slug:    "a", want: "127.0.0.17", outcome: OutcomeNew,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, filepath.Join(t.TempDir(), "leases.db"))
			snap := snapAt(tt.holders, 24*time.Hour)
			for _, slug := range sortedKeys(tt.leases) {
				mustAcquire(t, s, acquireRequest{Slug: slug, Pool: pool, Now: snap.TakenAt.Add(-tt.leases[slug])})
			}
			markVacant(t, s, time.Hour, sortedKeys(tt.leases)...) // this acquire makes the third observation
			res := mustAcquire(t, s, acquireRequest{Slug: tt.slug, Pool: pool, Now: snap.TakenAt.Add(time.Second), Grace: 10 * time.Minute,
				Snapshot: &snap})
			var reclaimed []string
			for _, d := range res.Reclaimed {
				reclaimed = append(reclaimed, d.Lease.Slug)
			}
			if res.Lease.Alias != addr(tt.want) || res.Outcome != tt.outcome || strings.Join(reclaimed, ",") != strings.Join(tt.reclaimed, ",") {
				t.Errorf("Acquire(%q) = %s %s reclaimed %v, want %s %s reclaimed %v", tt.slug, res.Lease.Alias, res.Outcome, reclaimed, tt.want, tt.outcome, tt.reclaimed)
			}
			for _, slug := range tt.reclaimed {
				if _, err := s.Get(slug); !errors.Is(err, ErrNotFound) {
					t.Errorf("Get(%q) after reclaim = %v, want ErrNotFound", slug, err)
				}
			}
		})
	}
}

func TestReclaim(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	s := openTest(t, path)
	pool := MustParsePool(DefaultPool)
	mustAcquire(t, s, acquireRequest{Slug: "stale", Pool: pool, Now: t0})
	mustAcquire(t, s, acquireRequest{Slug: "live", Pool: pool, Now: t0})
	mustAcquire(t, s, acquireRequest{Slug: "pending", Pool: pool, Now: t0.Add(55 * time.Minute)})
	markVacant(t, s, time.Hour, "stale")
	snap := snapAt([]Holder{{Alias: addr("127.0.0.17"), Name: "live-1"}}, time.Hour)
	before := readFile(t, path)
	ds, err := s.Reclaim(snap, 10*time.Minute, true)
	if err != nil || len(ds) != 1 || ds[0].Lease.Slug != "stale" || ds[0].State != Stale {
		t.Fatalf("Reclaim(dry run) = %v, %v; want stale alone", ds, err)
	}
	if !bytes.Equal(before, readFile(t, path)) {
		t.Errorf("a dry run changed the file")
	}
	if _, err := s.Reclaim(snap, 10*time.Minute, false); err != nil {
		t.Fatal(err)
	}
	ls, _ := s.Leases()
	var left []string
	for _, l := range ls {
		left = append(left, l.Slug)
	}
	if got := strings.Join(left, ","); got != "live,pending" {
		t.Errorf("leases after Reclaim = %s, want live,pending", got)
	}
}

func TestNoCreateWithoutCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "leases.db")
	for _, ro := range []bool{false, true} {
		if _, err := openStore(path, &storeOptions{ReadOnly: ro}); !errors.Is(err, ErrNoDatabase) {
			t.Errorf("Open(%q, ReadOnly=%v) = %v, want ErrNoDatabase", path, ro, err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("Open without Create created %v", ents)
	}
}

func TestLockTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	openTest(t, path).Close()
	// flock(2) locks conflict between open file descriptions, so another
	// Flock in this process stands for another process.
	other := flock.New(path + ".lock")
	if ok, err := other.TryLock(); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	defer other.Unlock()
	start := time.Now()
	_, err := openStore(path, &storeOptions{LockTimeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path+".lock") {
		t.Errorf("Open(%q) under a held lock = %v, want ErrLocked naming the lock file", path, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("Open gave up after %v, before the lock timeout", d)
	}
	// Readers share the lock with each other, not with a writer.
	other.Unlock()
	r1, err := openStore(path, &storeOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, err := openStore(path, &storeOptions{ReadOnly: true, LockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Errorf("second reader: %v, want a shared lock", err)
	} else {
		r2.Close()
	}
	if _, err := openStore(path, &storeOptions{LockTimeout: 100 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Errorf("writer beside a reader: %v, want ErrLocked", err)
	}
}

// markVacant records, for each slug, two observations that found its
// lease vacant, the first ago before testAt, as gc would have: the next
// observation (at testAt or later) is the third.
func markVacant(t *testing.T, s *store, ago time.Duration, slugs ...string) {
	t.Helper()
	for _, slug := range slugs {
		l, err := s.Get(slug)
		if err != nil {
			t.Fatalf("Get(%q) = %v", slug, err)
		}
		if err := s.update(func(tx *bolt.Tx) error { return putVacancy(tx, slug, vacant(l, 2, ago).Vacancy) }); err != nil {
			t.Fatalf("putVacancy(%q) = %v", slug, err)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sortedKeys(m map[string]time.Duration) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}
