package lease

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestReclaimRecordsHeldAtCoarsely checks that gc records held_at on a live
// lease only when the last record is a quarter of the grace old, and
// writes nothing at all (the file is byte-for-byte the same) otherwise.
func TestReclaimRecordsHeldAtCoarsely(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	s := openTest(t, path)
	grace := 40 * time.Minute
	mustAcquire(t, s, acquireRequest{Slug: "a", Now: t0})
	held := []Holder{{Alias: addr("127.0.0.16"), Name: "c"}}

	tests := []struct {
		at        time.Duration // snapshot time after t0
		wantWrite bool
		wantHeld  time.Duration // held_at after t0 afterwards; -1 for none
	}{
		{at: 5 * time.Minute, wantWrite: false, wantHeld: -1}, // renewed 5m ago < grace/4
		{at: 10 * time.Minute, wantWrite: true, wantHeld: 10 * time.Minute},
		{at: 19 * time.Minute, wantWrite: false, wantHeld: 10 * time.Minute},
		{at: 20 * time.Minute, wantWrite: true, wantHeld: 20 * time.Minute},
	}
	for _, tt := range tests {
		before := readFile(t, path)
		if _, err := s.Reclaim(snapAt(held, tt.at), grace, false); err != nil {
			t.Fatalf("Reclaim(at +%s) = %v", tt.at, err)
		}
		if wrote := !bytes.Equal(before, readFile(t, path)); wrote != tt.wantWrite {
			t.Errorf("Reclaim(at +%s) wrote the file = %v, want %v", tt.at, wrote, tt.wantWrite)
		}
		l, err := s.Get("a")
		if err != nil {
			t.Fatal(err)
		}
		want := time.Time{}
		if tt.wantHeld >= 0 {
			want = t0.Add(tt.wantHeld)
		}
		if !l.HeldAt.Equal(want) {
			t.Errorf("after Reclaim(at +%s) HeldAt = %v, want %v", tt.at, l.HeldAt, want)
		}
	}

	// The bottle's containers are gone: gc observes it vacant at +30m and
	// +50m; a third observation reclaims it once the first is a grace
	// (40m) old by the boot-time clock: not at +69m, at +70m.
	for _, at := range []time.Duration{30 * time.Minute, 50 * time.Minute} {
		if ds, err := s.Reclaim(snapAt(nil, at), grace, false); err != nil || len(ds) != 0 {
			t.Fatalf("Reclaim(at +%s) = %+v, %v; want nothing stale yet", at, ds, err)
		}
	}
	for _, tt := range []struct {
		at        time.Duration
		wantStale int
	}{{69 * time.Minute, 0}, {70 * time.Minute, 1}} {
		ds, err := s.Reclaim(snapAt(nil, tt.at), grace, true)
		if err != nil || len(ds) != tt.wantStale {
			t.Errorf("Reclaim(dry run at +%s) = %+v, %v; want %d stale", tt.at, ds, err, tt.wantStale)
		}
	}
}

// snapAt is a snapshot of holders taken after t0 (on both clocks, in
// testAt's boot), as the Manager takes them.
func snapAt(hs []Holder, after time.Duration) Snapshot {
	at := instant{wall: t0.Add(after), boot: testAt.boot + after, id: testAt.id}
	return Snapshot{Holders: hs, TakenAt: at.wall, at: at}
}

// pidTrees is Trees over plain processes: the tree of a holder is its
// PGID's process alone, which is what the lease layer needs to be shown
// (the real trees are internal/confine's, tested in test/).
type pidTrees struct{}

func (pidTrees) Alive(h ProcessHolder) (bool, error) { return processAlive(h.PGID), nil }

func (pidTrees) End(_ context.Context, h ProcessHolder, _ time.Duration) error {
	return syscall.Kill(h.PGID, syscall.SIGKILL)
}

// TestProcessHolderKeepsLease checks that a lease whose recorded process
// tree lives is live for gc even when Docker shows no holder, that
// release refuses it, and that it is stale once the tree has ended, its
// entry then removed.
func TestProcessHolderKeepsLease(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "leases.db"))
	s.trees = pidTrees{}
	res := mustAcquire(t, s, acquireRequest{Slug: "a", Now: t0})
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep(1): %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	h := ProcessHolder{Slug: "a", Generation: res.Lease.Generation + 1, RunID: "r1", Kind: TreeProcGroup, PGID: cmd.Process.Pid}
	if err := s.addHolder(h, false, false); !errors.Is(err, ErrGenerationMismatch) {
		t.Errorf("addHolder(wrong generation) = %v, want ErrGenerationMismatch", err)
	}
	h.Generation = res.Lease.Generation
	if err := s.addHolder(h, false, false); err != nil {
		t.Fatalf("addHolder = %v", err)
	}
	later := Snapshot{TakenAt: t0.Add(time.Hour)}
	ds, err := s.Reclaim(later, 0, false)
	if err != nil || len(ds) != 0 {
		t.Fatalf("Reclaim with the process running = %+v, %v; want nothing stale", ds, err)
	}
	if _, err := s.Release("a", 0); !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), "process group") {
		t.Errorf("Release(%q) with its tree running = %v, want ErrHeld naming the process group", "a", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if ds, err = s.Reclaim(later, 0, false); err != nil || len(ds) != 1 || ds[0].State != Stale {
		t.Fatalf("Reclaim after the process ended = %+v, %v; want one stale", ds, err)
	}
	if _, err := s.Get("a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(%q) after reclaim = %v, want ErrNotFound", "a", err)
	}
	s.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketHolders); b != nil && b.Stats().KeyN != 0 {
			t.Errorf("holders bucket after reclaim has %d entries, want 0", b.Stats().KeyN)
		}
		return nil
	})
}

// TestLegacyPIDKeepsLease checks that a lease record of an older binary
// whose PID field names a running process is still held.
func TestLegacyPIDKeepsLease(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "leases.db"))
	res := mustAcquire(t, s, acquireRequest{Slug: "a", Now: t0})
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep(1): %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	l := res.Lease
	l.PID = cmd.Process.Pid
	if err := s.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketLeases).Put([]byte("a"), encodeLease(l)) }); err != nil {
		t.Fatal(err)
	}
	later := Snapshot{TakenAt: t0.Add(time.Hour)}
	if ds, err := s.Reclaim(later, 0, false); err != nil || len(ds) != 0 {
		t.Fatalf("Reclaim with the old binary's process running = %+v, %v; want nothing stale", ds, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if ds, err := s.Reclaim(later, 0, false); err != nil || len(ds) != 1 {
		t.Fatalf("Reclaim after the process ended = %+v, %v; want one stale", ds, err)
	}
}

// TestNothingCommittedAfterCancel checks that once the context of a Store
// has ended, no transaction commits: the file stays byte-for-byte as it
// was.
func TestNothingCommittedAfterCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	openTest(t, path).Close()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := openStoreCtx(ctx, path, &storeOptions{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := readFile(t, path)
	cancel()
	if _, err := s.Acquire(acquireRequest{Slug: "a", Pool: MustParsePool(DefaultPool), Now: t0}); !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire(%q) after cancel = %v, want context.Canceled", "a", err)
	}
	if !bytes.Equal(before, readFile(t, path)) {
		t.Errorf("Acquire after cancel changed the file")
	}
}

// TestLockWaitEndsWithContext checks that a cancelled context ends the wait
// for a held lock at once, as an interruption and not as ErrLocked.
func TestLockWaitEndsWithContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	holder := openTest(t, path)
	defer holder.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := openStoreCtx(ctx, path, &storeOptions{LockTimeout: time.Minute})
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrLocked) {
		t.Errorf("OpenContext(held lock, ended context) = %v, want the context's error and not ErrLocked", err)
	}
}

// TestVersion1RecordsRead checks that a lease record of schema 1 (before
// held_at and the process holder) reads, and that the first write marks
// the database as schema 2.
func TestVersion1RecordsRead(t *testing.T) {
	v1 := encodeLease(Lease{Slug: "a", Alias: addr("127.0.0.16"), Generation: 7, AcquiredAt: t0, RenewedAt: t0})[:leaseRecordV1Len]
	v1[0] = leaseRecordV1
	l, err := decodeLease("a", v1)
	if err != nil || l.Generation != 7 || !l.RenewedAt.Equal(t0) || !l.HeldAt.IsZero() || l.PID != 0 {
		t.Errorf("decodeLease(v1) = %+v, %v", l, err)
	}
	for _, bad := range [][]byte{v1[:len(v1)-1], append(bytes.Clone(v1), 0), {leaseRecordV2}} {
		if _, err := decodeLease("a", bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decodeLease(%x) = %v, want ErrCorrupt", bad, err)
		}
	}

	path := filepath.Join(t.TempDir(), "leases.db")
	s := openTest(t, path)
	s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint32(nil, 1))
	})
	mustAcquire(t, s, acquireRequest{Slug: "a"})
	var got uint32
	s.db.View(func(tx *bolt.Tx) error {
		got = binary.BigEndian.Uint32(tx.Bucket(bucketMeta).Get(keySchema))
		return nil
	})
	if got != SchemaVersion {
		t.Errorf("schema after the first write = %d, want %d", got, SchemaVersion)
	}
}

// TestZombieIsNotAlive checks that a process that has ended but is not
// reaped yet holds nothing.
func TestZombieIsNotAlive(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Skipf("no true(1): %v", err)
	}
	defer cmd.Wait()
	for i := 0; i < 200 && processAlive(cmd.Process.Pid); i++ {
		time.Sleep(5 * time.Millisecond) // it ends at once; until Wait it is a zombie
	}
	if processAlive(cmd.Process.Pid) && runtime.GOOS == "linux" {
		t.Errorf("processAlive(%d) = true for a zombie", cmd.Process.Pid)
	}
	if !processAlive(os.Getpid()) {
		t.Errorf("processAlive(%d) = false for this process", os.Getpid())
	}
}

// TestAcquireReclaimsOnlyBelowFree checks, on a large database, that a new
// lease reclaims a stale lease below the lowest free alias (and takes its
// alias), never one above it, and that gc still reclaims all the others.
func TestAcquireReclaimsOnlyBelowFree(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "leases.db"))
	pool := MustParsePool("127.1.0.0/20") // 4,096 aliases
	grace := 10 * time.Minute
	var all []netip.Addr
	pool.All(func(a netip.Addr) bool { all = append(all, a); return true })
	// Every alias leased but one free at index 3000; stale leases at 1000
	// and 3500 (on either side of it), the rest fresh.
	stale := map[int]bool{1000: true, 3500: true}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i, a := range all {
			if i == 3000 {
				continue
			}
			at := t0
			if stale[i] {
				at = t0.Add(-time.Hour)
			}
			l := Lease{Slug: fmt.Sprintf("s-%d", i), Alias: a, Generation: uint64(i + 1), AcquiredAt: at, RenewedAt: at}
			if err := putLease(tx, l); err != nil {
				return err
			}
			if stale[i] { // seen vacant twice already: the next observation is the third
				if err := putVacancy(tx, l.Slug, vacant(l, 2, time.Hour).Vacancy); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	taken := snapAt(nil, time.Minute)
	snap := &taken
	res, err := s.Acquire(acquireRequest{Slug: "new", Pool: pool, Now: t0.Add(time.Minute), Grace: grace, Snapshot: snap})
	if err != nil || res.Lease.Alias != all[1000] || len(res.Reclaimed) != 1 || res.Reclaimed[0].Lease.Slug != "s-1000" {
		t.Fatalf("Acquire(%q) = %v on %v reclaiming %+v, %v; want %v, reclaiming s-1000 only", "new", res.Outcome, res.Lease.Alias, res.Reclaimed, err, all[1000])
	}
	if _, err := s.Get("s-3500"); err != nil {
		t.Errorf("Get(%q) after acquire = %v; a stale lease above the lowest free alias was reclaimed", "s-3500", err)
	}
	res, err = s.Acquire(acquireRequest{Slug: "next", Pool: pool, Now: t0.Add(time.Minute), Grace: grace, Snapshot: snap})
	if err != nil || res.Lease.Alias != all[3000] || len(res.Reclaimed) != 0 {
		t.Fatalf("Acquire(%q) = %v, reclaimed %+v, %v; want the free %v, reclaiming nothing", "next", res.Lease.Alias, res.Reclaimed, err, all[3000])
	}
	ds, err := s.Reclaim(*snap, grace, false)
	var reclaimed []string
	for _, d := range ds {
		if d.State == Stale {
			reclaimed = append(reclaimed, d.Lease.Slug)
		}
	}
	if err != nil || strings.Join(reclaimed, ",") != "s-3500" {
		t.Errorf("Reclaim = %v, %v; want s-3500 reclaimed by gc", reclaimed, err)
	}
}

// TestSeenFloor checks the floor that lets acquire skip reading the
// leases: kept at or below every lease's last-wanted time by new leases
// and renewals (also into the past), recomputed by a sweep for a database
// that has none, which still reclaims the stale lease it finds.
func TestSeenFloor(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "leases.db"))
	floor := func() (int64, bool) {
		var f int64
		var ok bool
		s.db.View(func(tx *bolt.Tx) error { f, ok = seenFloor(tx); return nil })
		return f, ok
	}
	if f, ok := floor(); !ok || f != noLeaseFloor {
		t.Fatalf("floor of a new database = %d, %v, want %d", f, ok, noLeaseFloor)
	}
	mustAcquire(t, s, acquireRequest{Slug: "a", Now: t0})
	mustAcquire(t, s, acquireRequest{Slug: "b", Now: t0.Add(time.Hour)})
	if f, _ := floor(); f != t0.UnixNano() {
		t.Errorf("floor after leases at t0 and t0+1h = %v, want t0", time.Unix(0, f).UTC())
	}
	mustAcquire(t, s, acquireRequest{Slug: "b", Now: t0.Add(-time.Hour)}) // a renewal with the clock set back
	if f, _ := floor(); f != t0.Add(-time.Hour).UnixNano() {
		t.Errorf("floor after a renewal into the past = %v, want t0-1h", time.Unix(0, f).UTC())
	}
	// A database without a floor (made before it existed) is swept, and
	// the sweep sets it exactly; a stale lease is reclaimed on the way.
	s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keySeenFloor) })
	markVacant(t, s, time.Hour, "b")
	taken := snapAt([]Holder{{Alias: addr("127.0.0.16"), Name: "a-web", Slug: "a"}}, 30*time.Minute)
	snap := &taken
	res := mustAcquire(t, s, acquireRequest{Slug: "c", Now: t0.Add(30 * time.Minute), Grace: 10 * time.Minute, Snapshot: snap})
	if len(res.Reclaimed) != 1 || res.Reclaimed[0].Lease.Slug != "b" {
		t.Errorf("Acquire(%q) reclaimed %+v, want b (stale since t0-1h)", "c", res.Reclaimed)
	}
	// The sweep read b before reclaiming it: its floor is the minimum over
	// what it read, t0-1h, a bound still at or below every lease left.
	if f, ok := floor(); !ok || f != t0.Add(-time.Hour).UnixNano() {
		t.Errorf("floor after a sweep = %v, %v, want t0-1h", time.Unix(0, f).UTC(), ok)
	}
}
