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
	Holders(ctx context.Context) ([]Holder, error)
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
	// InventoryAuto uses the inventory when it answers; when it does not,
	// acquire decides from the leases alone and reclaims nothing.
	InventoryAuto InventoryMode = iota
	// InventoryOn requires the inventory to answer.
	InventoryOn
	// InventoryOff never asks it.
	InventoryOff
)

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

func (m *Manager) open(create, readOnly bool) (*Store, error) {
	return Open(m.Path, &Options{LockTimeout: m.LockTimeout, Create: create, ReadOnly: readOnly, Command: m.Command})
}

// take asks the inventory. It returns a nil snapshot, and no error, when
// the mode is off, or auto and the inventory did not answer (after
// warning); under InventoryOn, or with mustAnswer, a failure is an
// ErrInventory error.
func (m *Manager) take(ctx context.Context, mustAnswer bool) (*Snapshot, error) {
	if m.Inventory == nil || m.Mode == InventoryOff {
		return nil, nil
	}
	at := m.now()
	hs, err := m.Inventory.Holders(ctx)
	if err != nil {
		if !errors.Is(err, ErrInventory) {
			err = fmt.Errorf("%w: %w", ErrInventory, err)
		}
		if m.Mode == InventoryOn || mustAnswer {
			return nil, err
		}
		m.warn(fmt.Errorf("%w; deciding from the leases alone, reclaiming nothing", err))
		return nil, nil
	}
	return &Snapshot{Holders: hs, TakenAt: at}, nil
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
			return res, fmt.Errorf("%w (gave up waiting: %v)", err, ctx.Err())
		case <-time.After(pause):
		}
	}
}

func (m *Manager) acquireOnce(ctx context.Context, slug string) (AcquireResult, error) {
	needInventory := m.Inventory != nil && m.Mode != InventoryOff
	s, err := m.open(true, false)
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
	snap, err := m.take(ctx, false)
	if err != nil {
		return AcquireResult{}, err
	}
	crashPoint("after-inventory")
	if s, err = m.open(true, false); err != nil {
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
	if !errors.Is(err, ErrInterface) {
		err = fmt.Errorf("%w: %w", ErrInterface, err)
	}
	if res.Outcome == Renewed {
		return err // an existing lease stays: it was not ours to undo
	}
	s, oerr := m.open(false, false)
	if oerr == nil {
		_, oerr = s.release(res.Lease.Slug, res.Lease.Generation, "interface-failed")
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
func (m *Manager) Release(slug string, generation uint64) (Lease, error) {
	if err := ValidateSlug(slug); err != nil {
		return Lease{}, err
	}
	s, err := m.open(false, false)
	if errors.Is(err, ErrNoDatabase) {
		return Lease{}, fmt.Errorf("%w for %s", ErrNotFound, slug)
	}
	if err != nil {
		return Lease{}, err
	}
	defer s.Close()
	return s.Release(slug, generation)
}

// List returns a decision for every lease and every foreign pool alias.
// States are Unknown when the inventory was not asked or did not answer.
func (m *Manager) List(ctx context.Context) ([]Decision, error) {
	snap, err := m.take(ctx, false)
	if err != nil {
		return nil, err
	}
	var leases []Lease
	s, err := m.open(false, true)
	switch {
	case errors.Is(err, ErrNoDatabase):
	case err != nil:
		return nil, err
	default:
		leases, err = s.Leases()
		s.Close()
		if err != nil {
			return nil, err
		}
	}
	return Classify(leases, snap, m.Grace, m.Pool), nil
}

// Recover rebuilds the database from the inventory's labelled containers
// (see the package function Recover); the inventory must answer.
func (m *Manager) Recover(ctx context.Context, force bool) (RecoverResult, error) {
	if m.Inventory == nil || m.Mode == InventoryOff {
		return RecoverResult{}, fmt.Errorf("%w: recover needs Docker, which is off", ErrInventory)
	}
	snap, err := m.take(ctx, true)
	if err != nil {
		return RecoverResult{}, err
	}
	return Recover(m.Path, &Options{LockTimeout: m.LockTimeout}, snap.Holders, m.Pool, m.now(), force)
}

// GC reclaims stale leases and returns them. It reclaims nothing unless
// the inventory answered in full: any failure is ErrInventory, whatever
// the mode. With dryRun it returns the same and changes nothing.
func (m *Manager) GC(ctx context.Context, dryRun bool) ([]Decision, error) {
	if m.Inventory == nil || m.Mode == InventoryOff {
		return nil, fmt.Errorf("%w: gc needs Docker, which is off", ErrInventory)
	}
	snap, err := m.take(ctx, true)
	if err != nil {
		return nil, err
	}
	crashPoint("after-inventory")
	s, err := m.open(false, dryRun)
	if errors.Is(err, ErrNoDatabase) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer s.Close()
	ds, err := s.Reclaim(*snap, m.Grace, dryRun)
	if err != nil {
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
