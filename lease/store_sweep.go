package lease

import (
	"net/netip"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// sweep is the one pass over every lease that gc and acquire make: each
// record read once, in storage order, with no sort and no decision kept
// per lease, so 65,536 leases cost about what decoding them does. It
// calls stale for each stale lease (no holder, last wanted at least grace
// before snap was taken) and, when tx is writable, records held_at (at
// now) on each live lease whose record of it is due. Since it reads every
// record, it first checks them all against the alias index. The verdicts
// are classify's: a holder on the alias, a container attributed by its
// label, or a running process keeps a lease live; one labelled for
// another slug makes it a conflict, never reclaimed and never marked.
//
// It returns how many held_at records were due (written, or, in a
// read-only transaction, that a writing sweep would write).
func sweep(tx *bolt.Tx, snap Snapshot, now time.Time, grace time.Duration, stale func(Lease)) (int, error) {
	if err := checkRecords(tx); err != nil {
		return 0, err
	}
	held := map[netip.Addr]bool{}
	labelled := map[string]bool{}       // slugs held by containers attributed by label alone
	labels := map[netip.Addr][]string{} // the slug labels of the holders of each alias
	for _, h := range snap.Holders {
		switch {
		case !h.Alias.IsValid() && h.Slug != "":
			labelled[h.Slug] = true
		case h.Alias.IsValid():
			held[h.Alias] = true
			if h.Slug != "" {
				labels[h.Alias] = append(labels[h.Alias], h.Slug)
			}
		}
	}
	var due []Lease
	err := tx.Bucket(bucketLeases).ForEach(func(k, v []byte) error {
		l, err := decodeLease(string(k), v)
		switch {
		case err != nil:
			return err
		case held[l.Alias] || labelled[l.Slug] || l.PID > 0 && processAlive(l.PID):
			conflict := slices.ContainsFunc(labels[l.Alias], func(slug string) bool { return slug != l.Slug })
			if !conflict && snap.TakenAt.Sub(l.seenAt()) >= grace/4 {
				due = append(due, l)
			}
		case snap.TakenAt.Sub(l.seenAt()) >= grace:
			stale(l)
		}
		return nil
	})
	if err != nil || !tx.Writable() {
		return len(due), err
	}
	for _, l := range due {
		l.HeldAt = now.UTC()
		if err := tx.Bucket(bucketLeases).Put([]byte(l.Slug), encodeLease(l)); err != nil {
			return 0, err
		}
	}
	return len(due), nil
}
