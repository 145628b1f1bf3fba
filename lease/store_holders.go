package lease

import (
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// addHolder records h as a holder of its slug's lease, which must be of
// h's generation (ErrGenerationMismatch, ErrNotFound otherwise). With
// made, the lease is marked as the run's own (see bucketRuns); with keep,
// its mark is removed.
func (s *store) addHolder(h ProcessHolder, made, keep bool) error {
	return s.update(func(tx *bolt.Tx) error {
		l, err := leaseOf(tx, h.Slug, h.Generation)
		if err == nil {
			err = checkIndexed(tx, l)
		}
		if err != nil {
			return err
		}
		if made || keep {
			if err := markRunMade(tx, h.Slug, h.Generation, made && !keep); err != nil {
				return err
			}
		}
		if err := putHolder(tx, h); err != nil || h.Confined == nil {
			return err
		}
		return s.logEvent(tx, time.Now(), EventConfine, l, "")
	})
}

// unconfine removes the confinement record of slug's holder runID and
// returns the holder as it was; ErrNotFound when the lease of generation
// gen has no such confined holder.
func (s *store) unconfine(slug string, gen uint64, runID string) (h ProcessHolder, err error) {
	err = s.update(func(tx *bolt.Tx) error {
		l, err := leaseOf(tx, slug, gen)
		if err != nil {
			return err
		}
		for _, p := range l.Processes {
			if p.RunID == runID && p.Confined != nil {
				h = p
			}
		}
		if h.Confined == nil {
			return fmt.Errorf("%w: no confinement %s of %s", ErrNotFound, runID, slug)
		}
		unconfined := h
		unconfined.Confined = nil
		if err := putConfinement(tx, unconfined); err != nil {
			return err
		}
		return s.logEvent(tx, time.Now(), EventUnconfine, l, "")
	})
	return h, err
}

// endRun removes the holder runID of slug's lease, and releases the lease
// when it is of generation gen, marked as a run's own, and no other
// recorded tree of it lives; it reports whether it did.
func (s *store) endRun(slug string, gen uint64, runID string) (released bool, err error) {
	err = s.update(func(tx *bolt.Tx) error {
		if err := deleteHolders(tx, [][]byte{holderKey(slug, runID)}); err != nil {
			return err
		}
		if !runMade(tx, slug, gen) {
			return nil
		}
		l, err := leaseOf(tx, slug, gen)
		if err != nil || len(s.liveProcesses(l)) > 0 {
			return nil // gone, taken again, or another run's tree holds it
		}
		if err := deleteLease(tx, l); err != nil {
			return err
		}
		released = true
		return s.logEvent(tx, time.Now(), EventRelease, l, "")
	})
	if released && err == nil {
		s.afterCommit(s.unclaimGeneration(slug, gen))
	}
	return released, err
}

// liveProcesses returns the recorded trees of l that live.
func (s *store) liveProcesses(l Lease) []ProcessHolder {
	var live []ProcessHolder
	for _, h := range l.Processes {
		if treeAlive(s.trees, h) {
			live = append(live, h)
		}
	}
	return live
}

// refuseHeld is ErrHeld, naming the trees, when a recorded tree of l
// lives.
func (s *store) refuseHeld(l Lease) error {
	live := s.liveProcesses(l)
	if len(live) == 0 {
		return nil
	}
	names := make([]string, len(live))
	for i, h := range live {
		names[i] = h.String()
	}
	return fmt.Errorf("%s: %w: %s (release --force ends them)", l.Slug, ErrHeld, strings.Join(names, ", "))
}
