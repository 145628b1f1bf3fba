package lease

import (
	"context"
	"errors"
	"os"
	"testing"
)

// TestSharedGCRefusedPlaceWritesNothing: gc with a shared place it
// refuses (ErrUnsafePath, exit 8: "nothing touched") must not have
// reclaimed anything first, as release and acquire open the place before
// they write.
func TestSharedGCRefusedPlaceWritesNothing(t *testing.T) {
	shared := sharedPlaceForTest(t)
	ms := sharingManagers(t, shared, &fakeInventory{}, 1)
	m, ctx := ms[0], context.Background()
	m.Grace = 0 // a lease no holder holds is stale at once
	a, err := m.Acquire(ctx, "a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777|os.ModeSticky); err != nil { // no longer as share made it
		t.Fatal(err)
	}
	defer os.Chmod(shared, os.ModeSetgid|os.ModeSticky|0o770)
	if _, err := m.GC(ctx, false); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("GC with a refused shared place = %v, want ErrUnsafePath", err)
	}
	m.Shared = "" // read the database alone
	ls, err := m.Leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 || ls[0].Slug != "a" || ls[0].Generation != a.Lease.Generation {
		t.Fatalf("Leases() after a GC refused by its shared place = %v, want a's lease kept (nothing touched)", ls)
	}
}
