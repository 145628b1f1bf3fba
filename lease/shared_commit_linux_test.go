package lease

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// fsImmutable is FS_IMMUTABLE_FL of <linux/fs.h>, which x/sys/unix does
// not name.
const fsImmutable = 0x10

// setImmutable sets or clears the immutable flag of the file at path, so
// that not even root can remove it: the one way to make the removal of
// a claim fail as root.
func setImmutable(t *testing.T, path string, on bool) {
	t.Helper()
	f, err := os.Open(path)
	if !on && errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		t.Skipf("no file flags here: %v", err)
	}
	if on {
		flags |= fsImmutable
	} else {
		flags &^= fsImmutable
	}
	if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags)); err != nil {
		t.Skipf("the immutable flag cannot be set here: %v", err)
	}
}

// TestSharedClaimLeftAfterCommitWarns: a claim that cannot be removed
// after the commit (a release's, a run's end's, an acquire's of an
// orphan) is a warning, and the command's result success: the database
// did change. Before, the command failed as if nothing had, though it
// had released the lease. The claim left is removed by a later decision.
func TestSharedClaimLeftAfterCommitWarns(t *testing.T) {
	shared := sharedPlaceForTest(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// end releases a, whose claim is at claim, with its removal made
		// to fail; it returns the command's error.
		end  func(t *testing.T, m *Manager, gen uint64, claim string) error
		want error // what the warning wraps
	}{
		{"release", func(t *testing.T, m *Manager, _ uint64, claim string) error {
			setImmutable(t, claim, true)
			_, err := m.Release(ctx, "a", 0)
			return err
		}, unix.EPERM},
		{"run's end", func(t *testing.T, m *Manager, gen uint64, claim string) error {
			setImmutable(t, claim, true)
			return endRunReleased(ctx, m, gen)
		}, unix.EPERM},
		{"run's end, place refused", func(t *testing.T, m *Manager, gen uint64, _ string) error {
			os.Chmod(shared, 0o777|os.ModeSticky)
			defer os.Chmod(shared, os.ModeSetgid|os.ModeSticky|0o770)
			return endRunReleased(ctx, m, gen)
		}, ErrUnsafePath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, warns := testManager(t, nil, InventoryOff)
			m.Pool, m.Shared, m.Trees = MustParsePool("127.0.77.16-127.0.77.47"), shared, endableTrees{}
			a, err := m.Acquire(ctx, "a", 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Acquire(ctx, "b", 0); err != nil { // on another alias, for the renewal below
				t.Fatal(err)
			}
			claim := filepath.Join(shared, claimName(a.Lease.Alias, uint32(os.Geteuid())))
			t.Cleanup(func() { setImmutable(t, claim, false); os.Remove(claim) })
			if err := tc.end(t, m, a.Lease.Generation, claim); err != nil {
				t.Fatalf("%s of a with its claim left = %v, want success", tc.name, err)
			}
			if _, err := m.Lease(ctx, "a"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Lease(a) after the %s = %v, want ErrNotFound", tc.name, err)
			}
			if len(*warns) != 1 || !errors.Is((*warns)[0], tc.want) {
				t.Fatalf("%s of a warned %v, want one warning of %v", tc.name, *warns, tc.want)
			}
			if _, err := os.Lstat(claim); err != nil {
				t.Fatalf("the claim of a after the %s: %v, want it left", tc.name, err)
			}
			// A renewal finds the claim an orphan: one it cannot remove is
			// a warning and the renewal done; once it can, it is removed.
			*warns = nil
			if r, err := m.Acquire(ctx, "b", 0); err != nil || r.Outcome != OutcomeRenewed {
				t.Fatalf("Acquire(b) again beside a's claim left = %v, %v, want renewed", r.Outcome, err)
			}
			if tc.want == unix.EPERM && (len(*warns) != 1 || !errors.Is((*warns)[0], unix.EPERM)) {
				t.Fatalf("Acquire(b) again beside a's immutable claim warned %v, want one warning of EPERM", *warns)
			}
			*warns = nil
			if _, err := m.GC(ctx, false); err != nil || tc.want == unix.EPERM && (len(*warns) != 1 || !errors.Is((*warns)[0], unix.EPERM)) {
				t.Fatalf("GC() beside a's claim left = %v, warned %v, want success and, for an immutable claim, one warning of EPERM", err, *warns)
			}
			setImmutable(t, claim, false)
			if _, err := m.Acquire(ctx, "b", 0); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(claim); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the claim of a after a renewal that could remove it: %v, want it gone", err)
			}
		})
	}
}

// endRunReleased holds a as a run that made it, ends the run, and fails
// unless EndRun released it.
func endRunReleased(ctx context.Context, m *Manager, gen uint64) error {
	h := ProcessHolder{Slug: "a", Generation: gen, RunID: "r", Kind: TreeCgroup, Cgroup: "x"}
	if err := m.Hold(ctx, h, true, false); err != nil {
		return err
	}
	m.Trees.(endableTrees)["r"] = true
	released, err := m.EndRun(ctx, "a", gen, "r")
	if err == nil && !released {
		err = errors.New("EndRun did not release a")
	}
	return err
}
