package lease

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// EngineInfo describes the engine behind an Inventory, for health reports.
type EngineInfo struct {
	Host       string // the endpoint, unix:///path or tcp://host:port
	Source     string // what named it: --docker-host, DOCKER_HOST, a context, default
	Version    string // the engine's version, "20.10.24"
	APIVersion string // the API version spoken, "1.41"
}

// Describer is an Inventory that can describe its engine. The Docker
// adapter is one.
type Describer interface {
	// Describe asks the engine its version. The EngineInfo's Host and
	// Source are set even when the engine does not answer.
	Describe(ctx context.Context) (EngineInfo, error)
}

// DatabaseStatus is what CheckDatabase found.
type DatabaseStatus struct {
	Exists bool
	Size   int64
	// Schema is the file's schema version, 0 when it could not be read.
	Schema int
	// Leases are every lease, sorted by alias, when the check passed.
	Leases []Lease
	// Events is the number of audit events kept; -1 when not counted.
	Events int
}

// CheckDatabase runs every consistency check on the database (bbolt's
// page check, the lease records, the index bijection) under the shared
// lock, changing and creating nothing. A database not created yet is
// reported as not existing, without error.
func (m *Manager) CheckDatabase(ctx context.Context) (DatabaseStatus, error) {
	st := DatabaseStatus{Events: -1}
	fi, err := os.Lstat(m.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	st.Exists, st.Size = true, fi.Size()
	_, err = m.openIfExists(ctx, true, func(s *store) error {
		var err error
		if st.Schema, err = s.schema(); err != nil {
			return err
		}
		if err := s.Check(); err != nil {
			return err
		}
		if st.Leases, err = s.Leases(); err != nil {
			return err
		}
		for _, l := range st.Leases {
			// Only a valid slug is ever stored: any other key was
			// written by something else (a crafted or repaired file).
			if err := ValidateSlug(l.Slug); err != nil {
				return fmt.Errorf("%w: a lease is stored under a key that is not a slug (%w)", ErrCorrupt, err)
			}
		}
		evs, err := s.Events(0, "")
		st.Events = len(evs)
		return err
	})
	return st, err
}

// schema returns the database's schema version.
func (s *store) schema() (int, error) {
	var n int
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keySchema)
		if len(v) != 4 {
			return fmt.Errorf("%w: schema version missing", ErrCorrupt)
		}
		n = int(binary.BigEndian.Uint32(v))
		return nil
	})
	return n, err
}

// LockStatus reports whether the database's lock is held, and by whom,
// without waiting and without creating anything.
func (m *Manager) LockStatus() (LockState, error) { return lockStatus(m.Path) }

// Review is what the health report learns from the inventory: its
// engine, what it showed, and the verdict on every lease and foreign pool
// alias.
type Review struct {
	// Engine is the engine's description; its Host and Source are set
	// even when the engine does not answer.
	Engine EngineInfo
	// Snapshot is nil when the inventory was not asked or did not answer.
	Snapshot *Snapshot
	// Decisions are sorted by alias; without a snapshot every lease is
	// Unknown.
	Decisions []Decision
}

// Review describes the engine, asks the inventory for every holder (it
// must answer in full) and judges leases with the Manager's grace and
// pool, as list does. It is ErrInventory when the inventory is off or
// cannot describe itself, and the inventory's error when the engine does
// not answer (Engine.Version is empty) or does not list (it is set); every
// lease is then Unknown, except when nothing is there under auto: then
// the leases are judged by the listeners and process trees alone, as list
// and gc judge them.
func (m *Manager) Review(ctx context.Context, leases []Lease) (Review, error) {
	var rv Review
	var err error
	if d, ok := m.Inventory.(Describer); !m.usesInventory() || !ok {
		err = fmt.Errorf("%w: docker is off", ErrInventory)
	} else if rv.Engine, err = d.Describe(ctx); err == nil {
		var a answer
		a, err = m.take(ctx, mustAnswer)
		rv.Snapshot = a.snap
	} else if errors.Is(err, ErrNoEngine) && m.Mode == InventoryAuto {
		// Nothing there: no container publishes anything, so the leases
		// are judged by the other holders, as list judges them.
		if a, terr := m.take(ctx, ifNoEngine); terr == nil {
			rv.Snapshot = a.snap
		}
	}
	rv.Decisions = classifySnapshot(leases, rv.Snapshot, m.Grace, m.Pool, m.Trees)
	return rv, err
}

// StaleFrom says when a lease without a holder can be stale at the
// earliest, read now on both clocks with the Manager's grace, and how
// many more observations must find it vacant first; for the health
// report. A lease renewed after its vacancy began, or of another boot,
// starts again.
func (m *Manager) StaleFrom(l Lease) (time.Time, int) {
	at := readClocks(m.now())
	wait, more := vacancyFor(l.Vacancy, l.Generation, l.RenewedAt).staleAfter(at, m.Grace)
	from := at.wall.Add(wait)
	if renewal := l.RenewedAt.Add(m.Grace); renewal.After(from) {
		from = renewal
	}
	return from, more
}
