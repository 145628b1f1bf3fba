package lease

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestSweepAgreesWithClassify checks the one-verdict rule: on random
// databases, after random earlier observations (sweeps at earlier
// readings, each with its own holders), a sweep finds exactly the leases
// classify calls stale once that sweep's observation is recorded, and
// records held_at exactly on the live ones heldAtDue names.
func TestSweepAgreesWithClassify(t *testing.T) {
	const grace = 10 * time.Minute
	pool := MustParsePool("127.0.0.16-127.0.0.79")
	for round := range 30 {
		rng := rand.New(rand.NewPCG(uint64(round), 7))
		s := openTest(t, filepath.Join(t.TempDir(), "l.db"))
		n := 1 + rng.IntN(40)
		for i := range n {
			at := t0.Add(-time.Duration(rng.IntN(40)) * time.Minute)
			mustAcquire(t, s, acquireRequest{Slug: fmt.Sprintf("s%02d", i), Pool: pool, Now: at})
		}
		holders := func() []Holder {
			var hs []Holder
			for range rng.IntN(20) {
				h := Holder{Alias: u32ToAddr(addrToU32(addr("127.0.0.16")) + uint32(rng.IntN(64))), ID: "c"}
				if rng.IntN(3) == 0 {
					h.Slug = fmt.Sprintf("s%02d", rng.IntN(n+5))
				}
				hs = append(hs, h)
			}
			return hs
		}
		at := testAt
		var hs []Holder
		var gotStale []string
		for k := range 1 + rng.IntN(6) {
			at.wall = at.wall.Add(time.Duration(rng.IntN(8)) * time.Minute)
			at.boot += time.Duration(rng.IntN(8)) * time.Minute
			hs, gotStale = holders(), nil
			before, err := s.Leases()
			if err != nil {
				t.Fatal(err)
			}
			err = s.update(func(tx *bolt.Tx) error {
				_, err := sweep(tx, indexHolders(hs), nil, at, at.wall, grace, func(l Lease) { gotStale = append(gotStale, l.Slug) })
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			after, err := s.Leases()
			if err != nil {
				t.Fatal(err)
			}
			heldBefore := map[string]time.Time{}
			for _, l := range before {
				heldBefore[l.Slug] = l.HeldAt
			}
			var wantStale, wantDue, gotDue []string
			for _, d := range classify(after, hs, at, grace) {
				if d.State == Stale {
					wantStale = append(wantStale, d.Lease.Slug)
				}
			}
			for _, d := range classify(before, hs, at, grace) {
				if d.State == Live && heldAtDue(d.State, d.Lease.seenAt(), at.wall, grace) {
					wantDue = append(wantDue, d.Lease.Slug)
				}
			}
			for _, l := range after {
				if !l.HeldAt.Equal(heldBefore[l.Slug]) {
					gotDue = append(gotDue, l.Slug)
				}
			}
			for _, x := range [][]string{gotStale, wantStale, gotDue, wantDue} {
				slices.Sort(x)
			}
			if !slices.Equal(gotStale, wantStale) || !slices.Equal(gotDue, wantDue) {
				t.Fatalf("round %d, sweep %d: sweep stale %v, held_at %v; classify stale %v, due %v", round, k, gotStale, gotDue, wantStale, wantDue)
			}
		}
		s.Close()
	}
}

// TestNewerFieldsKept checks forward compatibility within the schema: a
// version 2 record followed by bytes a newer binary added is read,
// renewed and written back with those bytes as they were.
func TestNewerFieldsKept(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "l.db"))
	res := mustAcquire(t, s, acquireRequest{Slug: "a"})
	tail := []byte("\x07newer-binary-field")
	err := s.update(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketLeases).Get([]byte("a"))
		return tx.Bucket(bucketLeases).Put([]byte("a"), append(slices.Clone(v), tail...))
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustAcquire(t, s, acquireRequest{Slug: "a", Now: t0.Add(time.Minute)}); got.Outcome != OutcomeRenewed || got.Lease.Alias != res.Lease.Alias {
		t.Fatalf("Acquire(%q) of a record with newer fields = %v %v, want renewed %v", "a", got.Outcome, got.Lease.Alias, res.Lease.Alias)
	}
	var raw []byte
	s.view(func(tx *bolt.Tx) error { raw = slices.Clone(tx.Bucket(bucketLeases).Get([]byte("a"))); return nil })
	if len(raw) != leaseRecordV2Len+len(tail) || string(raw[leaseRecordV2Len:]) != string(tail) {
		t.Errorf("record after renewal = %x, want the newer fields %q kept after version 2's %d bytes", raw, tail, leaseRecordV2Len)
	}
	if l, err := s.Get("a"); err != nil || !l.RenewedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("Get(%q) = %+v, %v, want renewed at t0+1m", "a", l, err)
	}
}

// TestVacancyVoidedByOlderBinary checks that a vacancy counted before a
// renewal an older binary made (it rewrites the lease record and leaves
// the vacancy bucket alone) no longer counts: the lease is not stale.
func TestVacancyVoidedByOlderBinary(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "l.db"))
	mustAcquire(t, s, acquireRequest{Slug: "a", Now: t0.Add(-time.Hour)})
	markVacant(t, s, time.Hour, "a")
	if l, _ := s.Get("a"); l.Vacancy.Observations != 2 {
		t.Fatalf("Get(%q).Vacancy = %+v, want 2 observations", "a", l.Vacancy)
	}
	err := s.update(func(tx *bolt.Tx) error { // what an older binary's renewal writes
		l, _, err := getLease(tx, "a")
		if err != nil {
			return err
		}
		l.RenewedAt = t0.Add(-30 * time.Minute)
		return tx.Bucket(bucketLeases).Put([]byte("a"), encodeLease(l))
	})
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Get("a"); l.Vacancy.Observations != 0 {
		t.Errorf("Get(%q).Vacancy after another binary's renewal = %+v, want none", "a", l.Vacancy)
	}
	if ds, err := s.Reclaim(snapAt(nil, 0), 10*time.Minute, false); err != nil || len(ds) != 0 {
		t.Errorf("Reclaim = %+v, %v; want nothing: the vacancy began again with this observation", ds, err)
	}
}

// TestVacancyWrittenOnlyWhenItChanges checks that gc writes a vacancy
// only when it begins or its count moves (up to three): once counted to
// three, further vacant observations before the grace is over leave the
// file byte for byte as it was, and a holder seen ends the vacancy (one
// write), after which nothing is written again.
func TestVacancyWrittenOnlyWhenItChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.db")
	s := openTest(t, path)
	mustAcquire(t, s, acquireRequest{Slug: "a", Now: t0.Add(-time.Hour)})
	const grace = time.Hour
	held := []Holder{{Alias: addr("127.0.0.16"), Name: "c"}}
	for i, tt := range []struct {
		after     time.Duration
		holders   []Holder
		wantWrite bool
		wantObs   int
	}{
		{0, nil, true, 1},
		{time.Minute, nil, true, 2},
		{2 * time.Minute, nil, true, 3},
		{3 * time.Minute, nil, false, 3},
		{4 * time.Minute, nil, false, 3},
		{5 * time.Minute, held, true, 0},
		{6 * time.Minute, held, false, 0},
	} {
		before := readFile(t, path)
		if ds, err := s.Reclaim(snapAt(tt.holders, tt.after), grace, false); err != nil || len(ds) != 0 {
			t.Fatalf("gc %d: Reclaim = %+v, %v; want nothing stale within the grace", i, ds, err)
		}
		if wrote := !bytes.Equal(before, readFile(t, path)); wrote != tt.wantWrite {
			t.Errorf("gc %d (+%s): wrote the file = %v, want %v", i, tt.after, wrote, tt.wantWrite)
		}
		if l, _ := s.Get("a"); l.Vacancy.Observations != tt.wantObs {
			t.Errorf("gc %d: %d vacant observations, want %d", i, l.Vacancy.Observations, tt.wantObs)
		}
	}
}

// TestVacancyObserved checks how one more vacant observation moves a
// vacancy: it counts up to three within a boot, begins again at one in
// another boot or after a renewal (by any binary), and keeps its Since.
func TestVacancyObserved(t *testing.T) {
	const gen = 7
	renewed := t0.Add(-time.Hour)
	v := Vacancy{}.observed(gen, renewed, testAt)
	for i, want := range []int{2, 3, 3} {
		at := testAt
		at.boot += time.Duration(i+1) * time.Minute
		if v = v.observed(gen, renewed, at); v.Observations != want || !v.Since.Equal(testAt.wall) {
			t.Fatalf("observation %d: %d observations since %v, want %d since %v", i+2, v.Observations, v.Since, want, testAt.wall)
		}
	}
	other := testAt
	other.id = bootID{9}
	if w := v.observed(gen, renewed, other); w.Observations != 1 {
		t.Errorf("an observation in another boot: %d observations, want 1 (begun again)", w.Observations)
	}
	if w := v.observed(gen, renewed.Add(time.Minute), testAt); w.Observations != 1 {
		t.Errorf("an observation after a renewal: %d observations, want 1 (begun again)", w.Observations)
	}
	if w := v.observed(gen+1, renewed, testAt); w.Observations != 1 {
		t.Errorf("an observation of a new lease of the slug: %d observations, want 1", w.Observations)
	}
}
