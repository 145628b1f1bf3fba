package lease

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Get returns slug's lease, or ErrNotFound.
func (s *Store) Get(slug string) (Lease, error) {
	var l Lease
	err := s.view(func(tx *bolt.Tx) (err error) {
		l, err = leaseOf(tx, slug, 0)
		return err
	})
	return l, err
}

// Leases returns every lease, sorted by alias.
func (s *Store) Leases() ([]Lease, error) {
	var ls []Lease
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		ls, err = readLeases(tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ls, nil
}

// AcquireRequest describes one acquire decision.
type AcquireRequest struct {
	Slug  string
	Pool  Pool
	Now   time.Time
	Grace time.Duration
	// Snapshot is the container inventory, or nil when it was not asked
	// (Docker off, or unreachable under auto): then nothing is reclaimed,
	// adopted or skipped because of a holder.
	Snapshot *Snapshot
	// RenewOnly renews an existing lease and otherwise returns
	// ErrNotFound without writing anything, so a caller can renew without
	// asking the inventory first.
	RenewOnly bool
}

// Outcome says how Acquire satisfied a request.
type Outcome string

// AcquireResult is what Acquire did.
type AcquireResult struct {
	Lease     Lease
	Outcome   Outcome
	Reclaimed []Decision // stale leases reclaimed on the way
}

// Acquire renews slug's lease if it has one, even if its alias has since
// left the pool. Otherwise it reclaims stale leases (when a snapshot is
// given), adopts an alias the slug's labelled container already publishes
// on, or leases the lowest pool alias that is neither leased nor held. It
// is one transaction. It returns ErrExhausted when no alias is free, and
// ErrNotFound for a RenewOnly request of a slug without a lease.
func (s *Store) Acquire(req AcquireRequest) (AcquireResult, error) {
	if err := ValidateSlug(req.Slug); err != nil {
		return AcquireResult{}, err
	}
	var res AcquireResult
	err := s.update(func(tx *bolt.Tx) error {
		var err error
		res, err = s.acquire(tx, req)
		return err
	})
	return res, err
}

// acquire is Acquire's transaction: renew, or reclaim and pick.
func (s *Store) acquire(tx *bolt.Tx, req AcquireRequest) (AcquireResult, error) {
	l, found, err := getLease(tx, req.Slug)
	switch {
	case err != nil:
		return AcquireResult{}, err
	case found:
		return s.renew(tx, l, req.Now)
	case req.RenewOnly:
		return AcquireResult{}, fmt.Errorf("%w for %s", ErrNotFound, req.Slug)
	}
	var res AcquireResult
	if req.Snapshot != nil {
		if res.Reclaimed, err = s.reclaimStale(tx, req); err != nil {
			return res, err
		}
	}
	alias, outcome, err := pick(tx, req)
	if err != nil {
		return res, err
	}
	gen, err := nextGeneration(tx)
	if err != nil {
		return res, err
	}
	now := req.Now.UTC()
	res.Lease = Lease{Slug: req.Slug, Alias: alias, Generation: gen, AcquiredAt: now, RenewedAt: now}
	res.Outcome = outcome
	if err := putLease(tx, res.Lease); err != nil {
		return res, err
	}
	kind := EventAcquire
	if outcome == Adopted {
		kind = EventAdopt
	}
	return res, s.logEvent(tx, req.Now, kind, res.Lease, "")
}

// renew renews an existing lease at now, if the alias index agrees.
func (s *Store) renew(tx *bolt.Tx, l Lease, now time.Time) (AcquireResult, error) {
	if err := checkIndexed(tx, l); err != nil {
		return AcquireResult{}, err
	}
	l.RenewedAt = now.UTC()
	if err := tx.Bucket(bucketLeases).Put([]byte(l.Slug), encodeLease(l)); err != nil {
		return AcquireResult{}, err
	}
	return AcquireResult{Lease: l, Outcome: Renewed}, s.logEvent(tx, now, EventRenew, l, "")
}

// reclaimStale classifies every lease against the request's snapshot and
// reclaims the stale ones, before an alias is picked.
func (s *Store) reclaimStale(tx *bolt.Tx, req AcquireRequest) ([]Decision, error) {
	all, err := readCheckedLeases(tx)
	if err != nil {
		return nil, err
	}
	snap := req.Snapshot
	return s.apply(tx, req.Now, req.Grace, classify(all, withProcesses(snap.Holders, all), snap.TakenAt, req.Grace))
}

// pick chooses the alias of a new lease: one the slug's labelled
// containers already use (adoption), else the lowest pool alias that is
// neither leased nor held.
func pick(tx *bolt.Tx, req AcquireRequest) (netip.Addr, Outcome, error) {
	aliases := tx.Bucket(bucketAliases)
	held := map[netip.Addr]bool{}
	if snap := req.Snapshot; snap != nil {
		isLeased := func(a netip.Addr) bool { return aliases.Get(aliasKey(a)) != nil }
		if a, ok := adoptable(req.Slug, snap.Holders, req.Pool, isLeased); ok {
			return a, Adopted, nil
		}
		for _, h := range snap.Holders {
			if h.Alias.IsValid() {
				held[h.Alias] = true
			}
		}
	}
	a, ok := lowestFree(req.Pool, aliasIndex(aliases), held)
	if !ok {
		return a, "", fmt.Errorf("%w: all %d aliases of %s are leased or held", ErrExhausted, req.Pool.Len(), req.Pool)
	}
	return a, Created, nil
}

// reclaim removes a stale lease and logs why.
func (s *Store) reclaim(tx *bolt.Tx, now time.Time, d Decision) error {
	if err := deleteLease(tx, d.Lease); err != nil {
		return err
	}
	return s.logEvent(tx, now, EventReclaim, d.Lease, d.Reason)
}

// apply carries out decisions taken at now: it reclaims the stale leases,
// which it returns, and records held_at on the live ones whose record of
// it is due (see heldAtDue).
func (s *Store) apply(tx *bolt.Tx, now time.Time, grace time.Duration, ds []Decision) ([]Decision, error) {
	var reclaimed []Decision
	for _, d := range ds {
		switch {
		case d.State == Stale:
			if err := s.reclaim(tx, now, d); err != nil {
				return nil, err
			}
			reclaimed = append(reclaimed, d)
		case heldAtDue(d, now, grace):
			l := d.Lease
			if err := checkIndexed(tx, l); err != nil {
				return nil, err
			}
			l.HeldAt = now.UTC()
			if err := tx.Bucket(bucketLeases).Put([]byte(l.Slug), encodeLease(l)); err != nil {
				return nil, err
			}
		}
	}
	return reclaimed, nil
}

// Release ends slug's lease and returns it. A non-zero generation makes
// the release conditional: when the lease is not that generation, it is
// kept and ErrGenerationMismatch is returned along with the current lease.
// A slug without a lease is ErrNotFound.
func (s *Store) Release(slug string, generation uint64) (Lease, error) {
	return s.release(slug, generation, "")
}

// release is Release, logging reason with the event.
func (s *Store) release(slug string, generation uint64, reason Reason) (Lease, error) {
	if err := ValidateSlug(slug); err != nil {
		return Lease{}, err
	}
	var l Lease
	err := s.update(func(tx *bolt.Tx) error {
		var err error
		if l, err = leaseOf(tx, slug, generation); err != nil {
			return err
		}
		if err := deleteLease(tx, l); err != nil {
			return err
		}
		return s.logEvent(tx, time.Now(), EventRelease, l, reason)
	})
	return l, err
}

// Reclaim classifies every lease against snap and removes the stale ones,
// in one transaction, returning every decision (not only the stale ones).
// With dryRun it decides the same but writes nothing; a ReadOnly store
// can only do a dry run.
//
// It records held_at on live leases coarsely, and writes nothing at all
// when there is nothing to reclaim or record: gc from cron leaves the
// file alone (its mtime included) on an idle system.
func (s *Store) Reclaim(snap Snapshot, grace time.Duration, dryRun bool) ([]Decision, error) {
	var ds []Decision
	decide := func(tx *bolt.Tx) error {
		all, err := readCheckedLeases(tx)
		if err != nil {
			return err
		}
		ds = classify(all, withProcesses(snap.Holders, all), snap.TakenAt, grace)
		return nil
	}
	if err := s.view(decide); err != nil || dryRun || !needsWrite(ds, snap.TakenAt, grace) {
		return ds, err
	}
	err := s.update(func(tx *bolt.Tx) error {
		if err := decide(tx); err != nil { // the same lock is held: the same leases
			return err
		}
		_, err := s.apply(tx, snap.TakenAt, grace, ds)
		return err
	})
	return ds, err
}

// Leased reports which of slugs hold a lease.
func (s *Store) Leased(slugs []string) (map[string]bool, error) {
	out := make(map[string]bool, len(slugs))
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLeases)
		for _, slug := range slugs {
			if b.Get([]byte(slug)) != nil {
				out[slug] = true
			}
		}
		return nil
	})
	return out, err
}

// SetProcess records pid as the process holding slug's lease of the given
// generation (zero pid clears it). A lease of another generation is left
// alone and ErrGenerationMismatch returned; a missing one is ErrNotFound.
func (s *Store) SetProcess(slug string, generation uint64, pid int) error {
	return s.update(func(tx *bolt.Tx) error {
		l, err := leaseOf(tx, slug, generation)
		if err == nil {
			err = checkIndexed(tx, l)
		}
		if err != nil {
			return err
		}
		l.PID = pid
		return tx.Bucket(bucketLeases).Put([]byte(slug), encodeLease(l))
	})
}

// readCheckedLeases is readLeases for a transaction that reads every
// lease anyway: it also makes sure the alias index agrees with them all.
func readCheckedLeases(tx *bolt.Tx) ([]Lease, error) {
	if err := checkRecords(tx); err != nil {
		return nil, err
	}
	return readLeases(tx)
}

// readLeases decodes every lease, sorted by alias.
func readLeases(tx *bolt.Tx) ([]Lease, error) {
	b := tx.Bucket(bucketLeases)
	var ls []Lease // no capacity hint: Bucket.Stats would walk every page once more
	err := b.ForEach(func(k, v []byte) error {
		l, err := decodeLease(string(k), v)
		if err != nil {
			return err
		}
		ls = append(ls, l)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ls, byAlias)
	return ls, nil
}

// getLease reads slug's lease; found is false when it has none.
func getLease(tx *bolt.Tx, slug string) (l Lease, found bool, err error) {
	v := tx.Bucket(bucketLeases).Get([]byte(slug))
	if v == nil {
		return Lease{}, false, nil
	}
	l, err = decodeLease(slug, v)
	return l, err == nil, err
}

// leaseOf returns slug's lease: ErrNotFound when it has none, and
// ErrGenerationMismatch, with the lease, when generation is not zero and
// the lease is of another generation.
func leaseOf(tx *bolt.Tx, slug string, generation uint64) (Lease, error) {
	l, found, err := getLease(tx, slug)
	switch {
	case err != nil:
		return l, err
	case !found:
		return l, fmt.Errorf("%w for %s", ErrNotFound, slug)
	case generation != 0 && l.Generation != generation:
		return l, fmt.Errorf("%w: %s holds generation %d, not %d", ErrGenerationMismatch, slug, l.Generation, generation)
	}
	return l, nil
}

// putLease writes a new lease and its alias index entry, neither of
// which may exist.
func putLease(tx *bolt.Tx, l Lease) error {
	if err := checkFree(tx, l); err != nil {
		return err
	}
	if err := tx.Bucket(bucketLeases).Put([]byte(l.Slug), encodeLease(l)); err != nil {
		return err
	}
	return tx.Bucket(bucketAliases).Put(aliasKey(l.Alias), []byte(l.Slug))
}

// deleteLease removes a lease and its alias index entry, which must
// name it.
func deleteLease(tx *bolt.Tx, l Lease) error {
	if err := checkIndexed(tx, l); err != nil {
		return err
	}
	if err := tx.Bucket(bucketLeases).Delete([]byte(l.Slug)); err != nil {
		return err
	}
	return tx.Bucket(bucketAliases).Delete(aliasKey(l.Alias))
}

func nextGeneration(tx *bolt.Tx) (uint64, error) {
	meta := tx.Bucket(bucketMeta)
	var g uint64
	if v := meta.Get(keyGeneration); v != nil {
		if len(v) != 8 {
			return 0, fmt.Errorf("%w: generation counter", ErrCorrupt)
		}
		g = binary.BigEndian.Uint64(v)
	}
	g++
	return g, meta.Put(keyGeneration, binary.BigEndian.AppendUint64(nil, g))
}

// Outcomes of Acquire.
const (
	Created Outcome = "new"     // a new lease on the lowest free alias
	Renewed Outcome = "renewed" // the slug's existing lease, renewed
	Adopted Outcome = "adopted" // a new lease on the alias its labelled container already uses
)
