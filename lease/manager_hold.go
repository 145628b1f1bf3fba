package lease

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Hold records h as a holder of its slug's lease, in a transaction of its
// own: while its tree lives (as Trees tells), the lease is live whatever
// Docker says, it is never reclaimed, and Release refuses it. The lease
// must be h's generation: ErrGenerationMismatch or ErrNotFound otherwise.
// made says the run made the lease for itself (a new one), so that the
// last run of it to end releases it (EndRun); keep says it must outlive
// the run, whoever made it.
func (m *Manager) Hold(ctx context.Context, h ProcessHolder, made, keep bool) error {
	if h.RunID == "" {
		return errors.New("hold: a process holder needs a run id")
	}
	found, err := m.openIfExists(ctx, false, func(s *store) error { return s.addHolder(h, made, keep) })
	if !found && err == nil {
		err = fmt.Errorf("%w for %s", ErrNotFound, h.Slug)
	}
	return err
}

// Renew renews slug's lease of generation gen, in a transaction of its
// own, as a renewal by acquire does (its renewal time, and its claim in a
// shared place), without ever making a new one. "aliaslease run" renews
// the lease it holds this way while its tree lives, since other users'
// databases see a tree only through that claim. ErrNotFound when slug has
// no lease (or another database's claim superseded it);
// ErrGenerationMismatch when its lease is of another generation.
func (m *Manager) Renew(ctx context.Context, slug string, gen uint64) (Lease, error) {
	if err := ValidateSlug(slug); err != nil {
		return Lease{}, err
	}
	var l Lease
	found, err := m.openIfExists(ctx, false, func(s *store) error {
		if err := s.view(func(tx *bolt.Tx) error { _, err := leaseOf(tx, slug, gen); return err }); err != nil {
			return err
		}
		res, err := m.renew(s, slug)
		l = res.Lease
		return err
	})
	if !found && err == nil {
		err = fmt.Errorf("%w for %s", ErrNotFound, slug)
	}
	return l, err
}

// Unconfine removes the record of the confinement of slug's holder runID,
// in a transaction of its own, and returns the holder as it was, so that
// the caller removes its rules next: a crash between the two leaves rules
// without a record (still refusing), never a record that gc would install
// again. The holder stays a holder of the lease. gen 0 matches any
// generation. ErrNotFound when there is no such confined holder;
// ErrGenerationMismatch when the lease is of another generation.
func (m *Manager) Unconfine(ctx context.Context, slug string, gen uint64, runID string) (ProcessHolder, error) {
	if err := ValidateSlug(slug); err != nil {
		return ProcessHolder{}, err
	}
	var h ProcessHolder
	found, err := m.openIfExists(ctx, false, func(s *store) (err error) {
		h, err = s.unconfine(slug, gen, runID)
		return err
	})
	if !found && err == nil {
		err = fmt.Errorf("%w for %s", ErrNotFound, slug)
	}
	return h, err
}

// EndRun removes the holder runID of slug's lease, in a transaction of
// its own, and in the same one releases the lease when a run made it for
// itself (see Hold), it is still generation gen, and no other recorded
// tree of it lives. It reports whether it released it; one not recorded
// is no error.
func (m *Manager) EndRun(ctx context.Context, slug string, gen uint64, runID string) (released bool, err error) {
	_, err = m.openIfExists(ctx, false, func(s *store) (err error) {
		released, err = s.endRun(slug, gen, runID)
		return err
	})
	return released, err
}

// ReleaseForce is Release for a lease that live process trees hold: it
// ends those trees first (SIGTERM to each whole tree, SIGKILL to what is
// left after killAfter), without holding the lock meanwhile, then
// releases. A tree that appeared since still makes the release ErrHeld.
// Nothing is ended on a generation mismatch or a missing lease.
func (m *Manager) ReleaseForce(ctx context.Context, slug string, generation uint64, killAfter time.Duration) (Lease, error) {
	if err := ValidateSlug(slug); err != nil {
		return Lease{}, err
	}
	var l Lease
	found, err := m.openIfExists(ctx, true, func(s *store) error {
		return s.view(func(tx *bolt.Tx) (err error) {
			l, err = leaseOf(tx, slug, generation)
			return err
		})
	})
	if err != nil || !found {
		return m.Release(ctx, slug, generation) // the same answer, said once
	}
	ended := false
	for _, h := range l.Processes {
		if !treeAlive(m.Trees, h) {
			continue
		}
		ended = true
		if m.Trees == nil {
			return l, fmt.Errorf("%s: %w: %s, and this build cannot end it", slug, ErrHeld, h)
		}
		if err := m.Trees.End(ctx, h, killAfter); err != nil {
			return l, fmt.Errorf("ending %s of %s: %w", h, slug, err)
		}
	}
	reason := Reason("")
	if ended {
		reason = ReasonForced
	}
	rl, err := m.release(ctx, slug, generation, reason)
	if ended && errors.Is(err, ErrNotFound) {
		return l, nil // the ended run released it itself, as it made it
	}
	return rl, err
}
