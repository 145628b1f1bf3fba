package lease

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aliaslease/aliaslease/lease/internal/safefile"
)

// Acquire gives slug its alias: its existing lease renewed (never waiting
// for the inventory), or a new one. When the pool is exhausted it retries
// until wait has passed. Once the lease is committed and the lock
// released, the alias is brought up on the interface; if that fails, a new
// lease is removed again and the error wraps ErrInterface.
func (m *Manager) Acquire(ctx context.Context, slug string, wait time.Duration) (AcquireResult, error) {
	if err := ValidateSlug(slug); err != nil {
		return AcquireResult{}, err
	}
	if c, ok := m.Inventory.(EndpointChecker); ok && m.usesInventory() {
		if err := c.CheckEndpoint(); err != nil {
			return AcquireResult{}, err
		}
	}
	deadline := m.now().Add(wait)
	for {
		res, err := m.acquireOnce(ctx, slug)
		if !errors.Is(err, ErrExhausted) || !m.now().Before(deadline) {
			if err != nil {
				return res, err
			}
			return res, m.up(ctx, res)
		}
		pause := min(time.Second, deadline.Sub(m.now()))
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("waiting for a free alias: %w", ctx.Err())
		case <-time.After(pause):
		}
	}
}

// acquireOnce is one attempt: renew, or ask Docker and decide.
//
// Without an inventory one exclusive transaction renews or creates. With
// one, Docker is asked at once, in the background, while a lease to renew
// is looked for (see look): a new lease then pays for the longer of the
// two, not their sum, and a renewal never waits for Docker (its question
// is abandoned as soon as the lease is found, whatever Docker does). The
// look and the decision share the directory, walked once, and one open
// when Docker has answered by the time the look has the lock.
func (m *Manager) acquireOnce(ctx context.Context, slug string) (AcquireResult, error) {
	if !m.usesInventory() {
		a, err := m.take(ctx, mustAnswer) // the listeners alone
		if err != nil {
			return AcquireResult{}, err
		}
		return m.decide(ctx, nil, slug, a, nil)
	}
	askCtx, abandon := context.WithCancel(ctx)
	defer abandon()
	answered := make(chan asked, 1) // buffered: an abandoned question never blocks
	go func() {
		var q asked
		q.a, q.err = m.take(askCtx, ifNoEngine)
		answered <- q
	}()
	d, err := openDir(m.Path, false)
	switch {
	case errors.Is(err, ErrNoDatabase):
		d = nil // no directory, no database: a new lease, created whole
	case err != nil:
		return AcquireResult{}, err
	default:
		defer d.Close()
	}
	res, done, err := m.look(ctx, d, slug, abandon, answered)
	switch {
	case done && errors.Is(err, ErrNotFound):
		// The renewal removed the lease (another database took its alias
		// over): a new lease after all, asked for again, as the question
		// was abandoned.
		a, err := m.take(ctx, ifNoEngine)
		if err == nil {
			crashPoint("after-inventory")
		}
		return m.decide(ctx, d, slug, a, err)
	case done || err != nil:
		return res, err
	}
	q := <-answered
	if q.err == nil {
		crashPoint("after-inventory")
	}
	return m.decide(ctx, d, slug, q.a, q.err)
}

// asked is what the question to the holder sources gave.
type asked struct {
	a   answer
	err error
}

// look looks for slug's lease in d (nil when the directory is missing,
// so that there is none) under the exclusive lock. A lease found is
// renewed there, after abandon (ErrNotFound, done, when the renewal
// removed it instead: see store.Acquire); without one, a new lease is decided
// there if the question has been answered by then (as in a burst, where
// the lock is waited for), else the look ends, not done, and the
// decision opens the database again once Docker has answered: the lock
// is never held while Docker is waited for.
func (m *Manager) look(ctx context.Context, d *safefile.Dir, slug string, abandon func(), answered <-chan asked) (res AcquireResult, done bool, err error) {
	if d == nil {
		return res, false, nil
	}
	s, err := m.openIn(ctx, d, &storeOptions{})
	if errors.Is(err, ErrNoDatabase) {
		return res, false, nil
	}
	if err != nil {
		return res, false, err
	}
	defer s.Close()
	switch _, err := s.Get(slug); {
	case err == nil:
		abandon()
		res, err = m.renew(s, slug)
		return res, true, err
	case !errors.Is(err, ErrNotFound):
		return res, false, err
	}
	select {
	case q := <-answered:
		if q.err == nil {
			crashPoint("after-inventory")
		}
		res, err = m.decideIn(s, slug, q.a, q.err)
		return res, true, err
	default:
		return res, false, nil
	}
}

// renew renews slug's lease in s, ErrNotFound when it has none.
func (m *Manager) renew(s *store, slug string) (AcquireResult, error) {
	return s.Acquire(acquireRequest{Slug: slug, RenewOnly: true, Pool: m.Pool, Now: m.now(), Grace: m.Grace})
}

// decide decides slug's lease (renewing it, or a new one) with what the
// holder sources answered, a (or their error err), in one transaction
// under the exclusive lock, in d when it is not nil, creating the
// database if need be.
func (m *Manager) decide(ctx context.Context, d *safefile.Dir, slug string, a answer, err error) (AcquireResult, error) {
	if err != nil {
		return AcquireResult{}, err
	}
	s, err := m.openIn(ctx, d, &storeOptions{Create: true})
	if err != nil {
		return AcquireResult{}, err
	}
	defer s.Close()
	return m.decideIn(s, slug, a, nil)
}

// decideIn is decide's transaction in s, open for writing.
func (m *Manager) decideIn(s *store, slug string, a answer, err error) (AcquireResult, error) {
	if err != nil {
		return AcquireResult{}, err
	}
	if a.fellBack != nil {
		m.warn(fmt.Errorf("%w; deciding from the leases and the host's listeners alone, reclaiming nothing", a.fellBack))
	}
	return s.Acquire(acquireRequest{Slug: slug, Snapshot: a.snap, Pool: m.Pool, Now: m.now(), Grace: m.Grace})
}

func (m *Manager) up(ctx context.Context, res AcquireResult) error {
	crashPoint("after-commit")
	if m.Interface == nil {
		return nil
	}
	err := m.Interface.Up(ctx, res.Lease.Alias, m.Pool)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		// Interrupted, not failed: the lease stays as committed before
		// the signal (nothing is written after it), pending until gc.
		return fmt.Errorf("bringing %s up: %w", res.Lease.Alias, ctx.Err())
	}
	if !errors.Is(err, ErrInterface) {
		err = fmt.Errorf("%w: %w", ErrInterface, err)
	}
	if res.Outcome == OutcomeRenewed {
		return err // an existing lease stays: it was not ours to undo
	}
	s, oerr := m.open(ctx, false, false)
	if oerr == nil {
		_, oerr = s.release(res.Lease.Slug, res.Lease.Generation, ReasonInterfaceFailed)
		s.Close()
	}
	if oerr != nil && !errors.Is(oerr, ErrGenerationMismatch) && !errors.Is(oerr, ErrNotFound) {
		return fmt.Errorf("%w; removing the new lease failed too: %v", err, oerr)
	}
	return err
}
