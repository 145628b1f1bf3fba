package lease

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Get returns slug's lease, or ErrNotFound.
func (s *store) Get(slug string) (Lease, error) {
	var l Lease
	err := s.view(func(tx *bolt.Tx) (err error) {
		l, err = leaseOf(tx, slug, 0)
		return err
	})
	return l, err
}

// Leases returns every lease, sorted by alias.
func (s *store) Leases() ([]Lease, error) {
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

// reclaim removes a stale lease and logs why.
func (s *store) reclaim(tx *bolt.Tx, now time.Time, d Decision) error {
	if err := deleteLease(tx, d.Lease); err != nil {
		return err
	}
	return s.logEvent(tx, now, EventReclaim, d.Lease, d.Reason)
}

// Release ends slug's lease and returns it. A non-zero generation makes
// the release conditional: when the lease is not that generation, it is
// kept and ErrGenerationMismatch is returned along with the current lease.
// A slug without a lease is ErrNotFound.
func (s *store) Release(slug string, generation uint64) (Lease, error) {
	return s.release(slug, generation, "")
}

// release is Release, logging reason with the event. The shared place is
// opened first: one that is refused refuses the release before anything
// is written (exit 8 touches nothing); its claim is removed after the
// commit.
func (s *store) release(slug string, generation uint64, reason Reason) (Lease, error) {
	var l Lease
	p, err := s.place()
	if err != nil {
		return l, err
	}
	defer p.Close()
	err = s.update(func(tx *bolt.Tx) error {
		var err error
		if l, err = leaseOf(tx, slug, generation); err != nil {
			return err
		}
		if err := s.refuseHeld(l); err != nil {
			return err
		}
		if err := deleteLease(tx, l); err != nil {
			return err
		}
		return s.logEvent(tx, time.Now(), EventRelease, l, reason)
	})
	if err == nil {
		s.afterCommit(p.unclaim(l.Slug, l.Generation))
	}
	return l, err
}

// Reclaim removes the stale leases (no holder, last wanted at least grace
// before snap was taken) in one transaction and returns them, sorted by
// alias. With dryRun it returns the same and writes nothing; a ReadOnly
// store can only do a dry run.
//
// It records held_at on live leases coarsely, and writes nothing at all
// when there is nothing to reclaim or record: gc from cron leaves the
// file alone (its mtime included) on an idle system. Every lease is read
// once per pass (see sweep), twice when there is something to write.
func (s *store) Reclaim(snap Snapshot, grace time.Duration, dryRun bool) ([]Decision, error) {
	var stale []Decision
	idx := indexHolders(snap.Holders)
	collect := func(tx *bolt.Tx) (int, error) {
		stale = stale[:0]
		return sweep(tx, idx, s.trees, snap.instant(), snap.TakenAt, grace, func(l Lease) {
			stale = append(stale, Decision{Lease: l, Alias: l.Alias, State: Stale, Reason: ReasonNoHolder})
		})
	}
	// The shared place is opened first, as release opens it: one that is
	// refused refuses gc before anything is reclaimed (exit 8 touches
	// nothing).
	var p *sharedPlace
	if !dryRun && !s.ro {
		var err error
		if p, err = s.place(); err != nil {
			return nil, err
		}
		defer p.Close()
	}
	var due int
	err := s.view(func(tx *bolt.Tx) (err error) {
		due, err = collect(tx)
		return err
	})
	if err == nil && !dryRun && (len(stale) > 0 || due > 0) {
		err = s.update(func(tx *bolt.Tx) error {
			if _, err := collect(tx); err != nil { // the same lock is held: the same leases
				return err
			}
			for _, d := range stale {
				if err := s.reclaim(tx, snap.TakenAt, d); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err == nil && p != nil {
		err = s.syncClaims(p, snap, grace)
	}
	slices.SortFunc(stale, func(a, b Decision) int { return byAlias(a.Lease, b.Lease) })
	return stale, err
}

// readLeases decodes every lease, sorted by alias.
func readLeases(tx *bolt.Tx) ([]Lease, error) {
	b := tx.Bucket(bucketLeases)
	var ls []Lease // no capacity hint: Bucket.Stats would walk every page once more
	vac, iso, hj := joinVacancy(tx), joinIsolation(tx), joinHolders(tx)
	err := b.ForEach(func(k, v []byte) error {
		l, err := decodeLease(string(k), v)
		if err != nil {
			return err
		}
		l.Vacancy = vacancyFor(decodeVacancy(vac.of(k)), l.Generation, l.RenewedAt)
		l.Isolation = isolationFor(decodeIsolation(iso.of(k)), l.Generation)
		l.Processes = hj.processes(k, l.Generation)
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
	if l, err = decodeLease(slug, v); err != nil {
		return l, false, err
	}
	l.Vacancy = vacancyFor(vacancyOf(tx, slug), l.Generation, l.RenewedAt)
	l.Isolation = isolationFor(isolationOf(tx, slug), l.Generation)
	l.Processes, _ = holdersOf(tx, slug, l.Generation)
	return l, true, nil
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
	if err := lowerSeenFloor(tx, l); err != nil {
		return err
	}
	if err := adjustIndexSum(tx, l, true); err != nil {
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
	if err := putVacancy(tx, l.Slug, Vacancy{}); err != nil {
		return err
	}
	if err := putIsolation(tx, l.Slug, Isolation{}); err != nil {
		return err
	}
	hs, void := holdersOf(tx, l.Slug, l.Generation)
	for _, h := range hs {
		void = append(void, holderKey(h.Slug, h.RunID))
	}
	if err := deleteHolders(tx, void); err != nil {
		return err
	}
	if err := markRunMade(tx, l.Slug, 0, false); err != nil {
		return err
	}
	if err := adjustIndexSum(tx, l, false); err != nil {
		return err
	}
	return tx.Bucket(bucketAliases).Delete(aliasKey(l.Alias))
}

// nextGeneration counts the database's generations on by one. A counter
// at 2^64-1 refuses the next lease (ErrCorrupt: no real database gets
// there, one lease a nanosecond would take 584 years): wrapping to 0
// would hand out a generation below every earlier one, which a late
// release --generation could then match.
func nextGeneration(tx *bolt.Tx) (uint64, error) {
	meta := tx.Bucket(bucketMeta)
	var g uint64
	if v := meta.Get(keyGeneration); v != nil {
		if len(v) != 8 {
			return 0, fmt.Errorf("%w: generation counter", ErrCorrupt)
		}
		g = binary.BigEndian.Uint64(v)
	}
	if g == math.MaxUint64 {
		return 0, fmt.Errorf("%w: the generation counter is at its maximum (%d): a new lease cannot get a generation above every earlier one", ErrCorrupt, g)
	}
	g++
	return g, meta.Put(keyGeneration, binary.BigEndian.AppendUint64(nil, g))
}

// each calls fn with every lease in storage order (see storedLeases), in
// one read transaction.
func (s *store) each(fn func(iter.Seq2[Lease, error]) error) error {
	return s.view(func(tx *bolt.Tx) error { return fn(storedLeases(tx)) })
}

// storedLeases yields every lease in the order the database stores them
// (by slug), decoding each as it is yielded: one pass over the records
// (eachRecord), where reading them in alias order through the alias index
// would walk from the root once per lease. A damaged record, or records
// that disagree with the alias index (checked after the last lease), are
// yielded as ErrCorrupt, so that a reader of a damaged file fails instead
// of showing two leases on one alias.
func storedLeases(tx *bolt.Tx) iter.Seq2[Lease, error] {
	return func(yield func(Lease, error) bool) {
		stopped := false
		vac, iso, hj := joinVacancy(tx), joinIsolation(tx), joinHolders(tx)
		err := eachRecord(tx, func(k, v []byte) error {
			l, _ := decodeLease(string(k), v) // valid: eachRecord checked it
			l.Vacancy = vacancyFor(decodeVacancy(vac.of(k)), l.Generation, l.RenewedAt)
			l.Isolation = isolationFor(decodeIsolation(iso.of(k)), l.Generation)
			l.Processes = hj.processes(k, l.Generation)
			if !yield(l, nil) {
				stopped = true
				return errStopWalk
			}
			return nil
		})
		if err != nil && !stopped {
			yield(Lease{}, err)
		}
	}
}

// errStopWalk ends a walk whose reader stopped early.
var errStopWalk = errors.New("walk stopped")
