package lease

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"time"

	"github.com/aliaslease/aliaslease/lease/internal/safefile"
)

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
	Listeners   Listeners        // nil sees no listener
	NameOwners  bool             // name each listener's process (see OwnerNamer): for reports
	Trees       Trees            // tells which process holders live; nil counts every recorded one as live
	Verbose     bool             // warn also what cron need not hear (gc reclaiming without Docker)
	Interface   Interface        // nil leaves the interface alone
	Warn        func(error)      // receives warnings; nil drops them
	Now         func() time.Time // nil means time.Now
	Command     string           // names the command in the audit log and lock record
	Shared      string           // the shared place of several users' databases ("" for none; see DefaultSharedDir)
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

func (m *Manager) open(ctx context.Context, create, readOnly bool) (*store, error) {
	return m.openIn(ctx, nil, &storeOptions{Create: create, ReadOnly: readOnly})
}

// openIn opens the database with o (its LockTimeout, Command, Trees,
// Shared and Warn the Manager's), in d when it is not nil.
func (m *Manager) openIn(ctx context.Context, d *safefile.Dir, o *storeOptions) (*store, error) {
	opts := *o
	opts.LockTimeout, opts.Command, opts.Trees, opts.Shared, opts.Dir, opts.Warn = m.LockTimeout, m.Command, m.Trees, m.Shared, d, m.warn
	return openStoreCtx(ctx, m.Path, &opts)
}

// openIfExists runs fn on the database if it exists, opened read-only under
// the shared lock or for writing under the exclusive one. It is the one
// place where a database not created yet counts as empty: then fn is not
// called, nothing is created, and found is false.
func (m *Manager) openIfExists(ctx context.Context, readOnly bool, fn func(*store) error) (found bool, err error) {
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

// Release ends slug's lease, only if it is that generation when generation
// is not zero. It never asks the inventory. A missing database is the same
// as a missing lease: ErrNotFound.
func (m *Manager) Release(ctx context.Context, slug string, generation uint64) (Lease, error) {
	if err := ValidateSlug(slug); err != nil {
		return Lease{}, err
	}
	return m.release(ctx, slug, generation, "")
}

// release is Release, logging reason with the event.
func (m *Manager) release(ctx context.Context, slug string, generation uint64, reason Reason) (Lease, error) {
	var l Lease
	found, err := m.openIfExists(ctx, false, func(s *store) (err error) {
		l, err = s.release(slug, generation, reason)
		return err
	})
	if !found && err == nil {
		err = fmt.Errorf("%w for %s", ErrNotFound, slug)
	}
	return l, err
}

// List returns a decision for every lease and every foreign pool alias,
// in alias order (see ListEach).
func (m *Manager) List(ctx context.Context) ([]Decision, error) {
	var ds []Decision
	err := m.ListEach(ctx, func(d Decision) error {
		ds = append(ds, d)
		return nil
	})
	slices.SortStableFunc(ds, byDecisionAlias)
	return ds, err
}

// ListEach calls fn with a decision for every lease, in the order the
// database stores them (by slug), then for every foreign pool alias, in
// alias order: nothing is sorted or kept, so a list of a full pool
// costs about what reading them does. A caller that wants alias order
// sorts what it keeps of each (list sorts 8-byte keys of its rendered
// rows). States are Unknown when the inventory was not asked or did
// not answer (after a warning). An error from fn ends the walk. fn runs
// under the shared lock, which holds up every writer: it must not block
// (render into memory; write to a terminal or a pipe afterwards).
func (m *Manager) ListEach(ctx context.Context, fn func(Decision) error) error {
	a, err := m.take(ctx, ifUnavailable)
	if err != nil {
		return err
	}
	if a.fellBack != nil {
		m.warn(a.fellBack) // states are unknown
	}
	snap := a.snap
	idx := indexHolders(snap.Holders)
	idx.known = snap.Containers != NotAsked
	walk := func(leases iter.Seq2[Lease, error]) error {
		return classifyEach(leases, idx, snap.instant(), m.Grace, processHolders(m.Trees), func(d *Decision) error {
			if d.State == Foreign && !m.Pool.Contains(d.Alias) {
				return nil
			}
			return fn(*d)
		})
	}
	found, err := m.openIfExists(ctx, true, func(s *store) error {
		return s.each(walk)
	})
	if err != nil || found {
		return err
	}
	return walk(func(func(Lease, error) bool) {}) // no database yet: foreign aliases only
}

// Recover rebuilds the database from the inventory's labelled containers
// (see the package function Recover); the inventory must answer.
func (m *Manager) Recover(ctx context.Context, force bool) (RecoverResult, error) {
	if !m.usesInventory() {
		return RecoverResult{}, fmt.Errorf("%w: recover needs Docker, which is off", ErrInventory)
	}
	snap, err := m.takeAll(ctx)
	if err != nil {
		return RecoverResult{}, err
	}
	return recoverDBCtx(ctx, m.Path, &storeOptions{LockTimeout: m.LockTimeout}, snap.Holders, m.Pool, m.now(), force)
}

// GC reclaims stale leases and returns them; its sweep is an
// observation. It reclaims nothing unless every holder source answered:
// a failing inventory is ErrInventory, unreadable listeners are
// ErrListeners. Under InventoryOff, and under InventoryAuto with nothing
// there (ErrNoEngine), the listeners and process holders are all there
// is: it reclaims by them, and warns that it did when it reclaimed
// something (or always, with Verbose). With dryRun it returns the same and
// changes nothing.
func (m *Manager) GC(ctx context.Context, dryRun bool) ([]Decision, error) {
	a, err := m.take(ctx, ifNoEngine)
	if err != nil {
		return nil, err
	}
	crashPoint("after-inventory")
	var ds []Decision
	if _, err := m.openIfExists(ctx, dryRun, func(s *store) (err error) {
		ds, err = s.Reclaim(*a.snap, m.Grace, dryRun)
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
	if a.snap.Containers != Listed && (len(stale) > 0 || m.Verbose) {
		why := "docker is off"
		if a.fellBack != nil {
			why = a.fellBack.Error()
		}
		m.warn(fmt.Errorf("%s: reclaimed by the host's listeners and process holders alone", why))
	}
	return stale, nil
}

// Events returns the newest n audit events (all kept, for n <= 0), of
// slug only when it is not empty, oldest first.
func (m *Manager) Events(ctx context.Context, n int, slug string) ([]Event, error) {
	evs := []Event{}
	_, err := m.openIfExists(ctx, true, func(s *store) (err error) {
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
	_, err := quick.openIfExists(ctx, true, func(s *store) error {
		ls, err := s.Leases()
		for _, l := range ls {
			slugs = append(slugs, l.Slug)
		}
		return err
	})
	return slugs, err
}
