package lease

import (
	"encoding/binary"
	"math"
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
// record, it checks them all against the alias index in the same pass
// (the records' side of checkRecords; a disagreement fails the sweep,
// whatever it collected). The verdicts
// are classify's: a holder on the alias, a container attributed by its
// label, or a running process keeps a lease live; one labelled for
// another slug makes it a conflict, never reclaimed and never marked.
//
// It returns how many held_at records were due (written, or, in a
// read-only transaction, that a writing sweep would write).
func sweep(tx *bolt.Tx, snap Snapshot, now time.Time, grace time.Duration, stale func(Lease)) (int, error) {
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
	var sum uint64 // the leases' side of the consistency check, in the same pass
	floor := noLeaseFloor
	c := tx.Bucket(bucketLeases).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if !recordValid(v) {
			_, err := decodeLease(string(k), v)
			return 0, err
		}
		sum += pairHash(v[1:5], k)
		// Judged from the record's bytes: a lease is decoded (and its
		// slug copied) only when it is stale or due.
		alias, seen, pid := peekLease(v)
		floor = min(floor, seen.UnixNano())
		switch {
		case held[alias] || labelled[string(k)] || pid > 0 && processAlive(pid):
			conflict := slices.ContainsFunc(labels[alias], func(slug string) bool { return slug != string(k) })
			if !conflict && snap.TakenAt.Sub(seen) >= grace/4 {
				l, _ := decodeLease(string(k), v)
				due = append(due, l)
			}
		case snap.TakenAt.Sub(seen) >= grace:
			l, _ := decodeLease(string(k), v)
			stale(l)
		}
	}
	if err := checkIndexSum(tx, sum); err != nil {
		return 0, err
	}
	if !tx.Writable() {
		return len(due), nil
	}
	if len(due) > 0 { // a clock set back could record held_at before the floor
		floor = min(floor, now.UnixNano())
	}
	if err := setSeenFloor(tx, floor); err != nil {
		return 0, err
	}
	for _, l := range due {
		l.HeldAt = now.UTC()
		if err := tx.Bucket(bucketLeases).Put([]byte(l.Slug), encodeLease(l)); err != nil {
			return 0, err
		}
	}
	return len(due), nil
}

// The seen floor. meta/seen-floor holds a time no lease was last wanted
// before (every lease's seenAt is at or after it), so that acquire can
// tell, without reading a single record, that no lease can be stale yet:
// after a burst of launches, a database of 65,000 fresh leases costs a new
// lease what a database of 16 does. putLease lowers it for every new
// lease and renew for every renewal (a clock set back could renew into
// the past); removals cannot break it; a sweep of a writable transaction
// sets it to the minimum over the leases it read. At worst a wrong floor
// makes acquire skip reclaiming a stale lease, which gc still reclaims:
// it is never a reason to reclaim. A database without it (made before it
// existed) is swept.
var keySeenFloor = []byte("seen-floor")

// noLeaseFloor is the floor of a database without leases: after any time.
const noLeaseFloor = int64(math.MaxInt64)

// seenFloor returns the floor, and whether the database has one.
func seenFloor(tx *bolt.Tx) (int64, bool) {
	v := tx.Bucket(bucketMeta).Get(keySeenFloor)
	if len(v) != 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(v)), true
}

// setSeenFloor records the floor.
func setSeenFloor(tx *bolt.Tx, floor int64) error {
	return tx.Bucket(bucketMeta).Put(keySeenFloor, binary.BigEndian.AppendUint64(nil, uint64(floor)))
}

// lowerSeenFloor keeps the floor at or below a lease just written, when
// the database has one.
func lowerSeenFloor(tx *bolt.Tx, l Lease) error {
	floor, ok := seenFloor(tx)
	if seen := l.seenAt().UnixNano(); ok && seen < floor {
		return setSeenFloor(tx, seen)
	}
	return nil
}

// noneStale says, from the floor alone, that no lease can be stale at
// taken with this grace.
func noneStale(tx *bolt.Tx, taken time.Time, grace time.Duration) bool {
	floor, ok := seenFloor(tx)
	return ok && (floor == noLeaseFloor || taken.Sub(time.Unix(0, floor)) < grace)
}
