package lease

import (
	"fmt"
	"net/netip"
	"time"

	bolt "go.etcd.io/bbolt"
)

// acquireRequest describes one acquire decision.
type acquireRequest struct {
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

	claims *claimSet // the shared place's claims, nil when there is none
}

// Outcome says how Acquire satisfied a request.
type Outcome string

// AcquireResult is what Acquire did.
type AcquireResult struct {
	Lease     Lease
	Outcome   Outcome
	Reclaimed []Decision // stale leases reclaimed on the way

	failed error // the pick's error after a lease given up to a later claim, which is committed
}

// Acquire renews slug's lease if it has one, even if its alias has since
// left the pool. Otherwise it reclaims stale leases (when a snapshot is
// given), adopts an alias the slug's labelled container already publishes
// on, or leases the lowest pool alias that is neither leased nor held. It
// is one transaction. It returns ErrExhausted when no alias is free, and
// ErrNotFound for a RenewOnly request of a slug without a lease.
//
// With a shared place, the place is locked beside the database (always
// after it) for the whole transaction: aliases other databases claim are
// neither picked nor adopted, and the lease's claim is written before
// the commit, so no lease is ever committed unclaimed.
func (s *store) Acquire(req acquireRequest) (AcquireResult, error) {
	var res AcquireResult
	idx := &holderIndex{}
	at := instant{wall: req.Now}
	if req.Snapshot != nil {
		idx, at = indexHolders(req.Snapshot.Holders), req.Snapshot.instant()
	}
	p, err := s.place()
	if err != nil {
		return res, err
	}
	defer p.Close()
	observe := req.Snapshot != nil && req.Snapshot.Containers == Listed
	if req.claims, err = newClaimSet(p, idx, at, req.Grace, observe); err != nil {
		return res, err
	}
	err = s.update(func(tx *bolt.Tx) error {
		// The observation counted first, as sweep counts it: the claims
		// are then judged with it.
		if _, err := req.claims.observeAll(tx); err != nil {
			return err
		}
		var err error
		if res, err = s.acquire(tx, req, idx); err != nil {
			return err
		}
		if err := req.claims.dropOrphans(tx); err != nil {
			return err
		}
		crashPoint("before-commit")
		return nil
	})
	if err == nil {
		s.afterCommit(req.claims.dropped())
	}
	if err == nil && res.failed != nil {
		return AcquireResult{}, res.failed
	}
	return res, err
}

// acquire is Acquire's transaction: renew, or reclaim and pick.
func (s *store) acquire(tx *bolt.Tx, req acquireRequest, idx *holderIndex) (AcquireResult, error) {
	l, found, err := getLease(tx, req.Slug)
	switch {
	case err != nil:
		return AcquireResult{}, err
	case found:
		now := l
		now.RenewedAt = req.Now.UTC()
		superseded, err := req.claims.renewed(tx, now, s.heldHere(l, idx))
		switch {
		case err != nil:
			return AcquireResult{}, err
		case !superseded:
			return s.renew(tx, l, req.Now)
		case req.RenewOnly: // no holder asked yet: the full decision judges it, with the inventory's
			return AcquireResult{}, fmt.Errorf("%w for %s: another database's later claim stands on its alias %s", ErrNotFound, req.Slug, l.Alias)
		}
		if err := s.reclaim(tx, req.Now, Decision{Lease: l, Alias: l.Alias, State: Stale, Reason: ReasonClaimedElsewhere}); err != nil {
			return AcquireResult{}, err
		}
	case req.RenewOnly:
		return AcquireResult{}, fmt.Errorf("%w for %s", ErrNotFound, req.Slug)
	}
	var res AcquireResult
	alias, outcome, stale, err := s.pick(tx, req, idx)
	if err != nil && found { // the lease given up stays given up: committed, with the pick's error
		res.failed = err
		return res, nil
	}
	if err != nil {
		return res, err
	}
	if stale != nil { // the alias taken was a stale lease's: reclaimed first
		if err := s.reclaim(tx, req.Now, *stale); err != nil {
			return res, err
		}
		res.Reclaimed = []Decision{*stale}
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
	if err := req.claims.claimNew(res.Lease); err != nil {
		return res, err
	}
	kind := EventAcquire
	if outcome == OutcomeAdopted {
		kind = EventAdopt
	}
	return res, s.logEvent(tx, req.Now, kind, res.Lease, "")
}

// renew renews an existing lease at now, if the alias index agrees.
func (s *store) renew(tx *bolt.Tx, l Lease, now time.Time) (AcquireResult, error) {
	if err := checkIndexed(tx, l); err != nil {
		return AcquireResult{}, err
	}
	l.RenewedAt, l.Vacancy = now.UTC(), Vacancy{} // a renewal ends a vacancy
	if err := tx.Bucket(bucketLeases).Put([]byte(l.Slug), encodeLease(l)); err != nil {
		return AcquireResult{}, err
	}
	if err := putVacancy(tx, l.Slug, Vacancy{}); err != nil {
		return AcquireResult{}, err
	}
	if err := lowerSeenFloor(tx, l); err != nil {
		return AcquireResult{}, err
	}
	return AcquireResult{Lease: l, Outcome: OutcomeRenewed}, s.logEvent(tx, now, EventRenew, l, "")
}

// pick chooses the alias of a new lease: one the slug's labelled
// containers already use (adoption); else the lowest pool alias that is
// free (neither leased nor held) or stale (leased, no holder, last wanted
// at least the grace period ago), which the caller then reclaims. Only
// that one stale lease is reclaimed ("reclaim before picking" needs no
// more): the bulk is gc's.
func (s *store) pick(tx *bolt.Tx, req acquireRequest, idx *holderIndex) (netip.Addr, Outcome, *Decision, error) {
	aliases := tx.Bucket(bucketAliases)
	var stale *Decision
	// Adoption and reclaim need the inventory's answer: without it
	// (Docker off, nothing there) only what is held is skipped.
	if snap := req.Snapshot; snap != nil && snap.Containers == Listed {
		isLeased := func(a netip.Addr) bool { return aliases.Get(aliasKey(a)) != nil || req.claims.taken(tx, a) }
		if a, ok := adoptable(req.Slug, ownersOnly(snap.Holders), req.Pool, isLeased); ok {
			return a, OutcomeAdopted, nil, nil
		}
		if !noneStale(tx, snap.TakenAt, req.Grace) { // else no record need be read
			var err error
			if stale, err = s.lowestStale(tx, req, idx); err != nil {
				return netip.Addr{}, "", nil, err
			}
		}
	}
	held := idx.holds
	if req.claims != nil {
		held = func(a netip.Addr) bool { return idx.holds(a) || req.claims.taken(tx, a) }
	}
	a, free := lowestFree(req.Pool, aliasIndex(aliases), held)
	switch {
	case stale != nil && (!free || stale.Alias.Less(a)) && !req.claims.taken(tx, stale.Alias):
		return stale.Alias, OutcomeNew, stale, nil
	case free:
		return a, OutcomeNew, nil, nil
	}
	return a, "", nil, fmt.Errorf("%w: all %d aliases of %s are leased or held", ErrExhausted, req.Pool.Len(), req.Pool)
}

// lowestStale returns the stale lease on the lowest pool alias (nil if
// none), recording held_at on the way (see sweep).
func (s *store) lowestStale(tx *bolt.Tx, req acquireRequest, idx *holderIndex) (*Decision, error) {
	var best *Decision
	_, err := sweep(tx, idx, s.trees, req.Snapshot.instant(), req.Now, req.Grace, func(l Lease) {
		if req.Pool.Contains(l.Alias) && (best == nil || l.Alias.Less(best.Alias)) {
			best = &Decision{Lease: l, Alias: l.Alias, State: Stale, Reason: ReasonNoHolder}
		}
	})
	return best, err
}

// Outcomes of Acquire.
const (
	OutcomeNew     Outcome = "new"     // a new lease on the lowest free alias
	OutcomeRenewed Outcome = "renewed" // the slug's existing lease, renewed
	OutcomeAdopted Outcome = "adopted" // a new lease on the alias its labelled container already uses
)
