package lease

import (
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// vacantObservations is how many consecutive observations must find a
// lease without a holder before it can be stale (see docs/design.md,
// *Staleness*).
const vacantObservations = 3

// Vacancy is what observations (reconciles in which every holder source
// answered) found of a lease without a holder since it was last renewed
// or seen live. The zero value is a lease no observation has seen vacant.
type Vacancy struct {
	// Since is the wall-clock time of the first of the vacant
	// observations (vacant_since); zero when there were none.
	Since time.Time
	// Observations counts them, up to vacantObservations.
	Observations int

	gen     uint64        // the generation they were counted for
	renewed int64         // the renewal (Unix ns) they were counted after
	boot    time.Duration // the boot-time clock at Since
	id      bootID        // the boot of that reading
}

// vacancyFor returns v when it was counted for l as it is now, and the
// zero Vacancy when l was renewed (by any binary) or replaced since.
func vacancyFor(v Vacancy, gen uint64, renewed time.Time) Vacancy {
	if v.Observations == 0 || v.gen != gen || v.renewed != renewed.UnixNano() {
		return Vacancy{}
	}
	return v
}

// observed returns v after one more observation, at at, found the lease
// (gen, renewed) without a holder. Counting starts again in another boot,
// where the boot-time clock cannot tell how long ago Since was.
func (v Vacancy) observed(gen uint64, renewed time.Time, at instant) Vacancy {
	v = vacancyFor(v, gen, renewed)
	if _, sameBoot := at.since(v.boot, v.id); v.Observations == 0 || !sameBoot {
		return Vacancy{Since: at.wall.UTC(), Observations: 1, gen: gen, renewed: renewed.UnixNano(), boot: at.boot, id: at.id}
	}
	v.Observations = min(v.Observations+1, vacantObservations)
	return v
}

// long says whether the vacancy makes its lease stale at at, given the
// grace: enough observations, the first at least grace ago by the
// boot-time clock.
func (v *Vacancy) long(at instant, grace time.Duration) bool {
	d, sameBoot := at.since(v.boot, v.id)
	return v.Observations >= vacantObservations && sameBoot && d >= grace
}

// staleAfter says how much longer, from a reading at at, the vacancy must
// last, and how many more observations must find it, before its lease can
// be stale (zero and zero: it can be now). For the health report.
func (v Vacancy) staleAfter(at instant, grace time.Duration) (time.Duration, int) {
	need := vacantObservations - v.Observations
	d, sameBoot := at.since(v.boot, v.id)
	if v.Observations == 0 || !sameBoot {
		return grace, vacantObservations
	}
	return max(0, grace-d), need
}

// The vacancy bucket (slug -> record) sits beside the leases so that the
// lease records keep version 2's layout, which binaries of schema 2
// before it require byte for byte; they ignore the bucket (a renewal or
// release of theirs voids an entry, see vacancyFor). A record is a
// version byte (1), the generation, the renewal (Unix ns), Since (Unix
// ns), the boot-time clock (ns), the boot id, and the count; bytes after
// those are a newer binary's, and ignored.
var bucketVacancy = []byte("vacancy")

const vacancyRecordV1, vacancyRecordV1Len = 1, 1 + 8 + 8 + 8 + 8 + 16 + 1

func encodeVacancy(v Vacancy) []byte {
	b := make([]byte, 0, vacancyRecordV1Len)
	b = append(b, vacancyRecordV1)
	b = binary.BigEndian.AppendUint64(b, v.gen)
	b = binary.BigEndian.AppendUint64(b, uint64(v.renewed))
	b = binary.BigEndian.AppendUint64(b, uint64(v.Since.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(v.boot))
	b = append(b, v.id[:]...)
	return append(b, byte(v.Observations))
}

// decodeVacancy reads a record; one it cannot read counts as no vacancy
// (the entry only ever delays a reclaim, never hastens one).
func decodeVacancy(b []byte) Vacancy {
	if len(b) < vacancyRecordV1Len || b[0] != vacancyRecordV1 || b[49] == 0 {
		return Vacancy{}
	}
	v := Vacancy{
		gen:          binary.BigEndian.Uint64(b[1:]),
		renewed:      int64(binary.BigEndian.Uint64(b[9:])),
		Since:        time.Unix(0, int64(binary.BigEndian.Uint64(b[17:]))).UTC(),
		boot:         time.Duration(binary.BigEndian.Uint64(b[25:])),
		Observations: min(int(b[49]), vacantObservations),
	}
	copy(v.id[:], b[33:49])
	return v
}

// vacancyJoin reads the vacancy bucket beside a walk of the leases in
// storage (slug) order, with a cursor that only moves forward: one pass
// over each bucket, no lookup per lease.
type vacancyJoin struct {
	c    *bolt.Cursor
	k, v []byte
}

func joinVacancy(tx *bolt.Tx) *vacancyJoin {
	b := tx.Bucket(bucketVacancy)
	if b == nil {
		return &vacancyJoin{}
	}
	j := &vacancyJoin{c: b.Cursor()}
	j.k, j.v = j.c.First()
	return j
}

// of returns slug's vacancy record, nil when it has none; slugs must come
// in ascending order.
func (j *vacancyJoin) of(slug []byte) []byte {
	for j.k != nil && string(j.k) < string(slug) {
		j.k, j.v = j.c.Next()
	}
	if j.k != nil && string(j.k) == string(slug) {
		return j.v
	}
	return nil
}

// vacancyOf reads slug's vacancy record directly.
func vacancyOf(tx *bolt.Tx, slug string) Vacancy { return vacancyIn(tx, bucketVacancy, slug) }

// putVacancy records v for slug, creating the bucket in a database made
// before it; a zero v removes the entry.
func putVacancy(tx *bolt.Tx, slug string, v Vacancy) error {
	return putVacancyIn(tx, bucketVacancy, slug, v)
}

// vacancyIn reads the vacancy record of key in the bucket name (the
// leases' vacancy bucket, or the claims' one).
func vacancyIn(tx *bolt.Tx, name []byte, key string) Vacancy {
	if b := tx.Bucket(name); b != nil {
		return decodeVacancy(b.Get([]byte(key)))
	}
	return Vacancy{}
}

// putVacancyIn records v for key in the bucket name, creating the bucket
// in a database made before it; a zero v removes the entry.
func putVacancyIn(tx *bolt.Tx, name []byte, key string, v Vacancy) error {
	if v.Observations == 0 {
		if b := tx.Bucket(name); b != nil {
			return b.Delete([]byte(key))
		}
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(name)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), encodeVacancy(v))
}
