package lease

import (
	"context"
	"testing"
)

// TestManagerInspect: each slug named gets its lease judged against the
// holders, as list judges it, with its own events, in the order named; a
// slug without a lease comes back not found; an invalid one is refused.
func TestManagerInspect(t *testing.T) {
	ctx := context.Background()
	inv := &fakeInventory{}
	m, _ := testManager(t, inv, InventoryOn)
	for _, slug := range []string{"a", "b", "a"} {
		if _, err := m.Acquire(ctx, slug, 0); err != nil {
			t.Fatal(err)
		}
	}
	inv.holders = []Holder{{Alias: addr("127.0.0.17"), ID: "c1", Name: "b-web", Slug: "b", State: "exited", Port: "80->80/tcp"}}
	ins, err := m.Inspect(ctx, []string{"b", "nope", "a", "b"}, 0)
	if err != nil {
		t.Fatalf("Inspect() = %v", err)
	}
	if len(ins) != 4 {
		t.Fatalf("Inspect() = %d inspections, want 4", len(ins))
	}
	b, nope, a := ins[0], ins[1], ins[2]
	if !b.Found || b.Decision.State != Live || len(b.Decision.Holders) != 1 || b.Decision.Holders[0].State != "exited" || b.Decision.Lease.Alias != addr("127.0.0.17") {
		t.Errorf("Inspect(b) = %+v, want b live on 127.0.0.17, held by its exited container", b)
	}
	if nope.Found || nope.Slug != "nope" {
		t.Errorf("Inspect(nope) = %+v, want not found", nope)
	}
	if !a.Found || a.Decision.State != Pending || len(a.Events) != 2 || a.Events[0].Kind != EventAcquire || a.Events[1].Kind != EventRenew {
		t.Errorf("Inspect(a) = %+v, want pending with its acquire and renew events", a)
	}
	for _, e := range b.Events {
		if e.Slug != "b" {
			t.Errorf("Inspect(b) events = %+v, want b's alone", b.Events)
		}
	}
	if ins[3].Slug != "b" || !ins[3].Found || len(ins[3].Events) != len(b.Events) {
		t.Errorf("Inspect(b) named twice = %+v, want b again", ins[3])
	}
	if _, err := m.Inspect(ctx, []string{"a", "bad slug"}, 0); err == nil {
		t.Errorf("Inspect(%q) = nil, want ErrInvalidSlug", "bad slug")
	}
}
