package lease

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestManagerAcquireBesideReader: with a reader holding the shared lock,
// the look cannot take the exclusive lock at once and looks beside the
// reader instead; a renewal (never asking a hanging Docker) and a new
// lease still come once the reader is done.
func TestManagerAcquireBesideReader(t *testing.T) {
	tests := []struct {
		name string
		slug string
		inv  Inventory
		want Outcome
	}{
		{"renewal, Docker hanging", "a", hangingInventory{}, OutcomeRenewed},
		{"new lease", "b", &fakeInventory{}, OutcomeNew},
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
			res, err := m.Acquire(ctx, tt.slug, 0)
			if err != nil || res.Outcome != tt.want {
				t.Errorf("Acquire(%q) beside a reader = %v, %v, want %v", tt.slug, res.Outcome, err, tt.want)
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
