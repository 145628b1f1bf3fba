package lease

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestSharedOneDatabaseTwoPaths: one database named by two paths (a
// directory reached through a link of this user's, as /var is
// /private/var on macOS) is one database in the shared place: its lease,
// renewed through the other path, keeps its alias.
func TestSharedOneDatabaseTwoPaths(t *testing.T) {
	shared := sharedPlaceForTest(t)
	ms := sharingManagers(t, shared, &fakeInventory{}, 1)
	m, ctx := ms[0], context.Background()
	a, err := m.Acquire(ctx, "a", 0)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(filepath.Dir(m.Path), link); err != nil {
		t.Fatal(err)
	}
	other := *m
	other.Path = filepath.Join(link, filepath.Base(m.Path))
	r, err := other.Acquire(ctx, "a", 0)
	if err != nil || r.Lease.Alias != a.Lease.Alias || r.Outcome != OutcomeRenewed {
		t.Fatalf("Acquire(a) through %s = %v %v, %v, want %v renewed", other.Path, r.Lease.Alias, r.Outcome, err, a.Lease.Alias)
	}
}
