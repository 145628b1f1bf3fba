package lease

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Inventory gathers the holders of addresses: the containers that publish
// ports on them. The Docker adapter implements it.
type Inventory interface {
	// Holders returns every container publishing a port, in any state.
	// An error means the answer is incomplete and must not be used.
	//
	// leased, when not nil, says which of the given slugs hold a lease
	// now. A container whose bindings the inventory could only learn by
	// asking again (one that is not running), and whose SlugLabel names
	// a slug that holds a lease, may be returned as one Holder without an
	// Alias instead: classify attributes it to that slug's lease by its
	// label. Containers of unleased slugs are always resolved in full,
	// since adoption and foreign aliases need their addresses.
	//
	// Errors: one wrapping ErrNoEngine when nothing is there (no socket,
	// connection refused); one wrapping ErrEndpoint when the endpoint
	// cannot be used as written; one wrapping ctx.Err() and not
	// ErrInventory when ctx itself ended (an interruption is never a
	// Docker failure); any other wraps ErrInventory.
	Holders(ctx context.Context, leased func(slugs []string) (map[string]bool, error)) ([]Holder, error)
}

// Interface makes an alias usable on the loopback interface.
type Interface interface {
	// Up makes alias reachable, bringing up the pool's missing aliases
	// with it where the system needs them added.
	Up(ctx context.Context, alias netip.Addr, pool Pool) error
}

// InventoryMode says how a Manager treats its Inventory.
type InventoryMode int

// Inventory modes, as --docker auto|on|off.
const (
	// InventoryAuto uses the inventory; only when nothing is there to ask
	// (ErrNoEngine) does acquire decide from the leases alone, reclaiming
	// nothing. Any other failure of an engine that is there fails a new
	// lease, as under InventoryOn: guessing during a burst of launches is
	// how an alias a container holds gets handed out.
	InventoryAuto InventoryMode = iota
	// InventoryOn requires the inventory to answer.
	InventoryOn
	// InventoryOff never asks it.
	InventoryOff
)

// String returns the mode as --docker spells it.
func (m InventoryMode) String() string {
	switch m {
	case InventoryAuto:
		return "auto"
	case InventoryOn:
		return "on"
	case InventoryOff:
		return "off"
	}
	return fmt.Sprintf("InventoryMode(%d)", int(m))
}

// DefaultGrace is the default grace period of a holderless lease.
const DefaultGrace = 10 * time.Minute

// Manager runs the commands of aliaslease against one database: it asks
// the inventory before taking the lock, decides under the lock, and
// touches the interface after releasing it. The zero value is not usable;
// set at least Path and Pool.
type Manager struct {
	Path        string
	Pool        Pool
	LockTimeout time.Duration
	Grace       time.Duration
	Inventory   Inventory // nil is the same as InventoryOff
	Mode        InventoryMode
	Interface   Interface        // nil leaves the interface alone
	Warn        func(error)      // receives warnings; nil drops them
	Now         func() time.Time // nil means time.Now
	Command     string           // names the command in the audit log and lock record
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) warn(err error) {
	if m.Warn != nil {
		m.Warn(err)
	}
}

func (m *Manager) open(ctx context.Context, create, readOnly bool) (*Store, error) {
	return OpenContext(ctx, m.Path, &Options{LockTimeout: m.LockTimeout, Create: create, ReadOnly: readOnly, Command: m.Command})
}

// existing runs fn on the database if it exists, opened read-only under
// the shared lock or for writing under the exclusive one. It is the one
// place where a database not created yet counts as empty: then fn is not
// called, nothing is created, and found is false.
func (m *Manager) existing(ctx context.Context, readOnly bool, fn func(*Store) error) (found bool, err error) {
	s, err := m.open(ctx, false, readOnly)
	if errors.Is(err, ErrNoDatabase) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer s.Close()
	return true, fn(s)
}

// usesInventory says whether the inventory is asked at all.
func (m *Manager) usesInventory() bool { return m.Inventory != nil && m.Mode != InventoryOff }

// Fallback says how take treats an inventory that did not answer.
type fallback int

const (
	mustAnswer    fallback = iota // any failure is an error
	ifNoEngine                    // under auto, ErrNoEngine alone falls back, with a warning
	ifUnavailable                 // under auto, any Docker failure falls back (reports only)
)

// take asks the inventory. It returns a nil snapshot, and no error, when
// the mode is off, or when the mode is auto and the failure is one that fb
// lets fall back (after a warning). An interruption (ctx ended) and an
// unusable endpoint are errors in every mode.
func (m *Manager) take(ctx context.Context, fb fallback) (*Snapshot, error) {
	if !m.usesInventory() {
		return nil, nil
	}
	at := m.now()
	var dbErr error // the database's own failure, as itself: not a Docker one
	hs, err := m.Inventory.Holders(ctx, func(slugs []string) (map[string]bool, error) {
		leased, err := m.leased(ctx, slugs)
		dbErr = err
		return leased, err
	})
	switch {
	case err == nil:
		return &Snapshot{Holders: hs, TakenAt: at}, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("asking docker: %w", ctx.Err())
	case dbErr != nil:
		return nil, dbErr
	}
	if errors.Is(err, ErrEndpoint) {
		return nil, err
	}
	if !errors.Is(err, ErrInventory) {
		err = fmt.Errorf("%w: %w", ErrInventory, err)
	}
	fallBack := m.Mode == InventoryAuto &&
		(fb == ifNoEngine && errors.Is(err, ErrNoEngine) || fb == ifUnavailable)
	if !fallBack {
		return nil, err
	}
	if fb == ifNoEngine {
		m.warn(fmt.Errorf("%w; deciding from the leases alone, reclaiming nothing", err))
	} else {
		m.warn(err)
	}
	return nil, nil
}

// leased answers the inventory's question of which slugs hold a lease,
// from a short read under the shared lock. A missing database holds none.
func (m *Manager) leased(ctx context.Context, slugs []string) (map[string]bool, error) {
	out := map[string]bool{}
	_, err := m.existing(ctx, true, func(s *Store) (err error) {
		out, err = s.Leased(slugs)
		return err
	})
	return out, err
}

// Acquire gives slug its alias: its existing lease renewed (without asking
// the inventory), or a new one. When the pool is exhausted it retries
// until wait has passed. Once the lease is committed and the lock
// released, the alias is brought up on the interface; if that fails, a new
// lease is removed again and the error wraps ErrInterface.
func (m *Manager) Acquire(ctx context.Context, slug string, wait time.Duration) (AcquireResult, error) {
	if err := ValidateSlug(slug); err != nil {
		return AcquireResult{}, err
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

func (m *Manager) acquireOnce(ctx context.Context, slug string) (AcquireResult, error) {
	needInventory := m.usesInventory()
	s, err := m.open(ctx, true, false)
	if err != nil {
		return AcquireResult{}, err
	}
	// Renewal first, under the lock, so that it never waits for Docker;
	// without an inventory this one transaction is the whole acquire.
	res, err := s.Acquire(AcquireRequest{Slug: slug, Pool: m.Pool, Now: m.now(), Grace: m.Grace, RenewOnly: needInventory})
	s.Close()
	if !needInventory || !errors.Is(err, ErrNotFound) {
		return res, err
	}
	snap, err := m.take(ctx, ifNoEngine)
	if err != nil {
		return AcquireResult{}, err
	}
	crashPoint("after-inventory")
	if s, err = m.open(ctx, true, false); err != nil {
		return AcquireResult{}, err
	}
	defer s.Close()
	return s.Acquire(AcquireRequest{Slug: slug, Pool: m.Pool, Now: m.now(), Grace: m.Grace, Snapshot: snap})
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
	if res.Outcome == Renewed {
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

// Release ends slug's lease, only if it is that generation when generation
// is not zero. It never asks the inventory. A missing database is the same
// as a missing lease: ErrNotFound.
func (m *Manager) Release(ctx context.Context, slug string, generation uint64) (Lease, error) {
	if err := ValidateSlug(slug); err != nil {
		return Lease{}, err
	}
	var l Lease
	found, err := m.existing(ctx, false, func(s *Store) (err error) {
		l, err = s.Release(slug, generation)
		return err
	})
	if !found && err == nil {
		err = fmt.Errorf("%w for %s", ErrNotFound, slug)
	}
	return l, err
}

// List returns a decision for every lease and every foreign pool alias.
// States are Unknown when the inventory was not asked or did not answer.
func (m *Manager) List(ctx context.Context) ([]Decision, error) {
	snap, err := m.take(ctx, ifUnavailable)
	if err != nil {
		return nil, err
	}
	var leases []Lease
	if _, err := m.existing(ctx, true, func(s *Store) (err error) {
		leases, err = s.Leases()
		return err
	}); err != nil {
		return nil, err
	}
	return Classify(leases, snap, m.Grace, m.Pool), nil
}

// Recover rebuilds the database from the inventory's labelled containers
// (see the package function Recover); the inventory must answer.
func (m *Manager) Recover(ctx context.Context, force bool) (RecoverResult, error) {
	if !m.usesInventory() {
		return RecoverResult{}, fmt.Errorf("%w: recover needs Docker, which is off", ErrInventory)
	}
	snap, err := m.take(ctx, mustAnswer)
	if err != nil {
		return RecoverResult{}, err
	}
	return Recover(m.Path, &Options{LockTimeout: m.LockTimeout}, snap.Holders, m.Pool, m.now(), force)
}

// GC reclaims stale leases and returns them. It reclaims nothing unless
// the inventory answered in full: any failure is ErrInventory, whatever
// the mode. With dryRun it returns the same and changes nothing.
func (m *Manager) GC(ctx context.Context, dryRun bool) ([]Decision, error) {
	if !m.usesInventory() {
		return nil, fmt.Errorf("%w: gc needs Docker, which is off", ErrInventory)
	}
	snap, err := m.take(ctx, mustAnswer)
	if err != nil {
		return nil, err
	}
	crashPoint("after-inventory")
	var ds []Decision
	if _, err := m.existing(ctx, dryRun, func(s *Store) (err error) {
		ds, err = s.Reclaim(*snap, m.Grace, dryRun)
		return err
	}); err != nil {
		return nil, err
	}
	stale := ds[:0]
	for _, d := range ds {
		if d.State == Stale {
			stale = append(stale, d)
		}
	}
	return stale, nil
}

// Hold records pid as the process holding slug's lease of the given
// generation, or clears it with pid 0: while the process runs, the lease
// is live whatever Docker says, so it is never reclaimed and handed on
// under a command that outlived its wrapper.
func (m *Manager) Hold(ctx context.Context, slug string, generation uint64, pid int) error {
	found, err := m.existing(ctx, false, func(s *Store) error {
		return s.SetProcess(slug, generation, pid)
	})
	if !found && err == nil {
		err = fmt.Errorf("%w for %s", ErrNotFound, slug)
	}
	return err
}

// Events returns the newest n audit events (all kept, for n <= 0), of
// slug only when it is not empty, oldest first.
func (m *Manager) Events(ctx context.Context, n int, slug string) ([]Event, error) {
	evs := []Event{}
	_, err := m.existing(ctx, true, func(s *Store) (err error) {
		evs, err = s.Events(n, slug)
		return err
	})
	return evs, err
}

// Slugs returns the slugs that hold a lease, for shell completion. It
// barely waits for the lock: a held lock gives no slugs rather than a
// stalled shell.
func (m *Manager) Slugs(ctx context.Context) ([]string, error) {
	var slugs []string
	quick := *m
	quick.LockTimeout = 200 * time.Millisecond
	_, err := quick.existing(ctx, true, func(s *Store) error {
		ls, err := s.Leases()
		for _, l := range ls {
			slugs = append(slugs, l.Slug)
		}
		return err
	})
	return slugs, err
}
