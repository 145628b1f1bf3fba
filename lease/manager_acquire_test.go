package lease

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// countOpens counts the opens of a store until the test ends; the
// returned function tells how many there were since the call.
func countOpens(t *testing.T) func() int {
	t.Helper()
	var n atomic.Int64
	countOpen = func() { n.Add(1) }
	t.Cleanup(func() { countOpen = nil })
	return func() int { return int(n.Load()) }
}

// TestManagerAcquireBesideReader: with a reader holding the shared lock,
// the look waits for the exclusive lock; a renewal (never waiting for a
// hanging Docker) and a new lease (decided in the look's open, Docker
// having answered meanwhile) come once the reader is done.
func TestManagerAcquireBesideReader(t *testing.T) {
	tests := []struct {
		name  string
		slug  string
		inv   Inventory
		want  Outcome
		opens int
	}{
		{"renewal, Docker hanging", "a", hangingInventory{}, OutcomeRenewed, 1},
		{"new lease", "b", &fakeInventory{}, OutcomeNew, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := testManager(t, &fakeInventory{}, InventoryOn)
			if _, err := m.Acquire(context.Background(), "a", 0); err != nil {
				t.Fatal(err)
			}
			m.Inventory = tt.inv
			reader, err := openStore(m.Path, &storeOptions{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			time.AfterFunc(100*time.Millisecond, func() { reader.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			opens := countOpens(t)
			res, err := m.Acquire(ctx, tt.slug, 0)
			if err != nil || res.Outcome != tt.want {
				t.Errorf("Acquire(%q) beside a reader = %v, %v, want %v", tt.slug, res.Outcome, err, tt.want)
			}
			if n := opens(); n != tt.opens {
				t.Errorf("Acquire(%q) beside a reader opened the database %d times, want %d", tt.slug, n, tt.opens)
			}
		})
	}
}

// TestManagerAcquireNoDirectory: a first acquire where the database's
// directory does not exist yet creates both, the database whole, and
// the look creates nothing on its own.
func TestManagerAcquireNoDirectory(t *testing.T) {
	for _, mode := range []InventoryMode{InventoryOn, InventoryOff} {
		m, _ := testManager(t, &fakeInventory{}, mode)
		m.Path = filepath.Join(filepath.Dir(m.Path), "state", "aliaslease", "leases.db")
		res, err := m.Acquire(context.Background(), "a", 0)
		if err != nil || res.Outcome != OutcomeNew {
			t.Fatalf("Acquire(%q) without a directory (Docker %v) = %v, %v, want a new lease", "a", mode, res.Outcome, err)
		}
		s, err := openStore(m.Path, &storeOptions{ReadOnly: true})
		if err != nil {
			t.Fatalf("opening the database Acquire created: %v", err)
		}
		if err := s.Check(); err != nil {
			t.Errorf("Check() of the database Acquire created = %v, want nil", err)
		}
		s.Close()
	}
}

// TestManagerAcquireOpens: a renewal is one open of the database, with
// Docker on or off, and so is a new lease with Docker off; a new lease
// with Docker on that looks before Docker has answered is two (the look,
// then the decision), never more.
func TestManagerAcquireOpens(t *testing.T) {
	for _, mode := range []InventoryMode{InventoryOn, InventoryOff} {
		m, _ := testManager(t, &fakeInventory{}, mode)
		if _, err := m.Acquire(context.Background(), "a", 0); err != nil {
			t.Fatal(err)
		}
		if mode == InventoryOn {
			m.Inventory = hangingInventory{}
		}
		opens := countOpens(t)
		if res, err := m.Acquire(context.Background(), "a", 0); err != nil || res.Outcome != OutcomeRenewed {
			t.Fatalf("Acquire(%q) again (Docker %v) = %v, %v, want a renewal", "a", mode, res.Outcome, err)
		}
		if n := opens(); n != 1 {
			t.Errorf("a renewal (Docker %v) opened the database %d times, want 1", mode, n)
		}
		m.Inventory = &fakeInventory{}
		opens = countOpens(t)
		if res, err := m.Acquire(context.Background(), "b", 0); err != nil || res.Outcome != OutcomeNew {
			t.Fatalf("Acquire(%q) (Docker %v) = %v, %v, want a new lease", "b", mode, res.Outcome, err)
		}
		want := map[InventoryMode]int{InventoryOn: 2, InventoryOff: 1}[mode]
		if n := opens(); n < 1 || n > want {
			t.Errorf("a new lease (Docker %v) opened the database %d times, want 1 to %d", mode, n, want)
		}
	}
}
