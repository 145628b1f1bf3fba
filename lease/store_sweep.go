package lease

import (
	"bytes"
	"encoding/binary"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// sweep is the one pass over every lease that gc and acquire make, and
// it is an observation (every holder source answered, in snap): each
// record read once, in storage order (see eachRecord, which also checks
// the records against the alias index), with no sort and no decision
// kept per lease. Each lease is judged by verdict from its record's bytes
// with this observation counted in its vacancy, and decoded only when it
// is stale or its held_at is due. stale gets every stale lease. When tx
// is writable, the changes the observation makes are written: held_at
// (at now) on each live lease whose record of it is due (heldAtDue), each
// vacancy that changed (begun, counted, or ended by a holder), and the
// removal of each process holder entry that holds nothing (its tree gone,
// as t tells, or of another generation).
//
// It returns how many such writes were due (made, or, in a read-only
// transaction, that a writing sweep would make).
func sweep(tx *bolt.Tx, idx *holderIndex, t Trees, at instant, now time.Time, grace time.Duration, stale func(Lease)) (int, error) {
	sw := &sweeper{idx: idx, trees: t, at: at, grace: grace, stale: stale, vac: joinVacancy(tx), hj: joinHolders(tx), floor: noLeaseFloor, writes: tx.Writable()}
	if err := eachRecord(tx, sw.record); err != nil {
		return 0, err
	}
	due := len(sw.heldAt) + sw.vacancies + len(sw.void)
	if !tx.Writable() {
		return due, nil
	}
	return due, sw.write(tx, now)
}

// sweeper is one sweep's state.
type sweeper struct {
	idx   *holderIndex
	trees Trees
	hj    *holderJoin
	at    instant
	grace time.Duration
	stale func(Lease)
	vac   *vacancyJoin
	floor int64 // the lowest seen time, for the seen floor

	writes    bool          // a writing sweep keeps what it will write; a reading one only counts it
	heldAt    []Lease       // live leases whose held_at is due
	vacancies int           // vacancies that changed
	changed   []slugVacancy // those to write (a writing sweep); a zero one is removed
	extra     []Holder      // the holders of one lease beyond the index's, reused
	void      [][]byte      // process holder entries that hold nothing, to remove
}

type slugVacancy struct {
	slug string
	v    Vacancy
}

// record judges one lease record (k, v).
func (sw *sweeper) record(k, v []byte) error {
	p := peekLease(v)
	sw.floor = min(sw.floor, p.seen.UnixNano())
	hs := sw.holders(k, p)
	raw := sw.vac.of(k)
	was := vacancyFor(decodeVacancy(raw), p.gen, p.renewed)
	now := Vacancy{} // an observed holder ends a vacancy
	if len(hs) == 0 {
		now = was.observed(p.gen, p.renewed, sw.at)
	}
	if !sameVacancy(&now, &was) || raw != nil && now.Observations == 0 {
		sw.vacancies++
		if sw.writes {
			sw.changed = append(sw.changed, slugVacancy{string(k), now})
		}
	}
	switch st, _ := verdict(string(k), p.renewed, &now, hs, sw.at, sw.grace, true); {
	case st == Stale:
		l, _ := decodeLease(string(k), v)
		l.Vacancy = now
		sw.stale(l)
	case heldAtDue(st, p.seen, sw.at.wall, sw.grace):
		l, _ := decodeLease(string(k), v)
		sw.heldAt = append(sw.heldAt, l)
	}
	return nil
}

// holders returns the holders of the lease (k, p): those on its alias,
// its live process trees, and its running process (Lease.PID).
func (sw *sweeper) holders(k []byte, p peeked) []Holder {
	hs := sw.idx.on(p.alias)
	sw.extra = sw.extra[:0]
	sw.hj.of(k, func(key []byte, h ProcessHolder, ok bool) {
		switch {
		case ok && h.Generation == p.gen && treeAlive(sw.trees, h):
			sw.extra = append(sw.extra, h.holder(p.alias))
		default:
			sw.void = append(sw.void, bytes.Clone(key))
		}
	})
	if p.pid > 0 && processAlive(p.pid) {
		sw.extra = append(sw.extra, Holder{Kind: HolderProcess, Alias: p.alias, Slug: string(k)})
	}
	if len(sw.extra) == 0 {
		return hs
	}
	sw.extra = append(sw.extra, hs...)
	return sw.extra
}

// write records what the observation changed.
func (sw *sweeper) write(tx *bolt.Tx, now time.Time) error {
	floor := sw.floor
	if len(sw.heldAt) > 0 { // a clock set back could record held_at before the floor
		floor = min(floor, now.UnixNano())
	}
	if err := setSeenFloor(tx, floor); err != nil {
		return err
	}
	for _, l := range sw.heldAt {
		l.HeldAt = now.UTC()
		if err := tx.Bucket(bucketLeases).Put([]byte(l.Slug), encodeLease(l)); err != nil {
			return err
		}
	}
	for _, c := range sw.changed {
		if err := putVacancy(tx, c.slug, c.v); err != nil {
			return err
		}
	}
	return deleteHolders(tx, sw.void)
}

// sameVacancy says whether two vacancies would be recorded alike.
func sameVacancy(a, b *Vacancy) bool {
	return a.Observations == b.Observations && a.Since.Equal(b.Since) && a.gen == b.gen &&
		a.renewed == b.renewed && a.boot == b.boot && a.id == b.id
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
