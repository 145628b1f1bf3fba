package lease

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// syncClaims is gc's part in the shared place, after its reclaim: every
// lease of this database claimed (anew where its claim is missing and no
// other database's stands on its alias), each claim's held time brought
// up to the lease's held_at once a quarter of the grace behind (so that a
// lease held only by a process tree, which other users cannot see, stays
// wanted in their eyes), the claims of leases gone removed, and the
// observation counted in the vacancy of other databases' claims. The
// database is written only when one of those vacancies changes, so gc on
// an idle host leaves it alone.
// p is the place, open and locked by the caller.
func (s *store) syncClaims(p *sharedPlace, snap Snapshot, grace time.Duration) error {
	observe := snap.Containers == Listed || snap.Containers == NoEngine
	cs, err := newClaimSet(p, indexHolders(snap.Holders), snap.instant(), grace, observe)
	if err != nil {
		return err
	}
	var due int
	err = s.view(func(tx *bolt.Tx) error {
		leases, err := readLeases(tx)
		if err != nil {
			return err
		}
		for _, l := range leases {
			if err := cs.keep(tx, l, grace); err != nil {
				return err
			}
		}
		if err := cs.dropOrphans(tx); err != nil {
			return err
		}
		due, err = cs.observeAll(tx)
		return err
	})
	if err == nil {
		s.afterCommit(cs.dropped())
	}
	if err != nil || due == 0 {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		_, err := cs.observeAll(tx)
		return err
	})
}

// keep keeps l claimed: claimed anew where its claim is missing (unless
// another database's claim stands on its alias), its held time written
// once the lease's held_at is a quarter of the grace ahead of it.
func (cs *claimSet) keep(tx *bolt.Tx, l Lease, grace time.Duration) error {
	c := cs.mine(l)
	switch {
	case c == nil && !cs.taken(tx, l.Alias):
		return cs.claimNew(l)
	case c != nil && l.HeldAt.Sub(c.Held) >= max(grace/4, time.Nanosecond):
		cs.written[c.name] = true
		return cs.p.put(l, c.Seq, l.HeldAt, grace)
	}
	return nil
}
