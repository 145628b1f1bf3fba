package lease

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Lease returns slug's lease as stored, with its vacancy and isolation,
// without asking the inventory: ErrNotFound when it has none (or there
// is no database yet).
func (m *Manager) Lease(ctx context.Context, slug string) (Lease, error) {
	if err := ValidateSlug(slug); err != nil {
		return Lease{}, err
	}
	var l Lease
	found, err := m.openIfExists(ctx, true, func(s *store) (err error) {
		l, err = s.Get(slug)
		return err
	})
	if !found && err == nil {
		err = fmt.Errorf("%w for %s", ErrNotFound, slug)
	}
	return l, err
}

// Leases returns every lease as stored, sorted by alias, without asking
// the inventory; none when there is no database yet.
func (m *Manager) Leases(ctx context.Context) ([]Lease, error) {
	var ls []Lease
	_, err := m.openIfExists(ctx, true, func(s *store) (err error) {
		ls, err = s.Leases()
		return err
	})
	return ls, err
}

// RecordIsolation records verify's verdict, reached at at, on slug's
// lease of generation gen: ErrGenerationMismatch when the slug's lease is
// another one by now (the verdict was of a lease that is gone), and
// ErrNotFound when it has none.
func (m *Manager) RecordIsolation(ctx context.Context, slug string, gen uint64, verdict string, at time.Time) error {
	switch verdict {
	case VerdictIsolated, VerdictLeaky, VerdictCutOff:
	default:
		return fmt.Errorf("record isolation: verdict %q is none of %s, %s, %s", verdict, VerdictIsolated, VerdictLeaky, VerdictCutOff)
	}
	found, err := m.openIfExists(ctx, false, func(s *store) error {
		return s.update(func(tx *bolt.Tx) error {
			if _, err := leaseOf(tx, slug, gen); err != nil {
				return err
			}
			return putIsolation(tx, slug, Isolation{Verdict: verdict, At: at.UTC(), gen: gen})
		})
	})
	if !found && err == nil {
		err = fmt.Errorf("%w for %s", ErrNotFound, slug)
	}
	return err
}
