package lease

import (
	"encoding/binary"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// sweep is the one pass over every lease that gc and acquire make: each
// record read once, in storage order (see eachRecord, which also checks
// the records against the alias index), with no sort and no decision
// kept per lease. Each lease is judged by judgeSeen from its record's
// bytes, decoded only when it is stale or its held_at is due: stale gets
// every stale lease and, when tx is writable, held_at is recorded (at now)
// on each live lease whose record of it is due (heldAtDue).
//
// It returns how many held_at records were due (written, or, in a
// read-only transaction, that a writing sweep would write).
func sweep(tx *bolt.Tx, idx *holderIndex, takenAt, now time.Time, grace time.Duration, stale func(Lease)) (int, error) {
	var due []Lease
	var extra []Holder // the holders of one lease beyond the index's, reused
	floor := noLeaseFloor
	err := eachRecord(tx, func(k, v []byte) error {
		alias, seen, pid := peekLease(v)
		floor = min(floor, seen.UnixNano())
		hs := idx.on(alias)
		byLabel, running := idx.bySlug[string(k)], pid > 0 && processAlive(pid)
		if len(byLabel) > 0 || running {
			extra = append(append(extra[:0], hs...), byLabel...)
			if running {
				extra = append(extra, Holder{Alias: alias, Slug: string(k)})
			}
			hs = extra
		}
		switch st, _ := judgeSeen(string(k), seen, hs, takenAt, grace); {
		case st == Stale:
			l, _ := decodeLease(string(k), v)
			stale(l)
		case heldAtDue(st, seen, takenAt, grace):
			l, _ := decodeLease(string(k), v)
			due = append(due, l)
		}
		return nil
	})
	if err != nil {
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
