package lease

import (
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Verdicts of verify (see Isolation.Verdict).
const (
	VerdictIsolated = "isolated" // its own alias reached, nothing else
	VerdictLeaky    = "leaky"    // another canary reached
	VerdictCutOff   = "cut-off"  // nothing reached
)

// Isolation is the last verdict verify recorded for a lease. It belongs
// to one generation: a new lease of the slug starts without one. The zero
// value is a lease never verified.
type Isolation struct {
	// Verdict is VerdictIsolated, VerdictLeaky or VerdictCutOff; empty
	// for never verified.
	Verdict string
	// At is when the verdict was reached.
	At time.Time

	gen uint64 // the generation it was recorded for
}

// isolationFor returns v when it was recorded for generation gen, and
// the zero Isolation when the slug's lease was replaced since.
func isolationFor(v Isolation, gen uint64) Isolation {
	if v.Verdict == "" || v.gen != gen {
		return Isolation{}
	}
	return v
}

// The isolation bucket (slug -> record) sits beside the leases for the
// reason the vacancy bucket does (see bucketVacancy): the lease records
// keep version 2's layout, and binaries that do not know the bucket
// ignore it. An entry of another generation than the slug's lease is
// void (isolationFor), so a release and a new lease by any binary reset
// it. A record is a version byte (1), the generation, At (Unix ns) and
// the verdict's text; bytes after those are a newer binary's, and ignored.
var bucketIsolation = []byte("isolation")

const (
	isolationRecordV1    = 1
	isolationRecordV1Len = 1 + 8 + 8 + 1 // and the verdict's bytes
	maxVerdictLen        = 32
)

func encodeIsolation(v Isolation) []byte {
	b := make([]byte, 0, isolationRecordV1Len+len(v.Verdict))
	b = append(b, isolationRecordV1)
	b = binary.BigEndian.AppendUint64(b, v.gen)
	b = binary.BigEndian.AppendUint64(b, uint64(v.At.UnixNano()))
	b = append(b, byte(len(v.Verdict)))
	return append(b, v.Verdict...)
}

// decodeIsolation reads a record; one it cannot read counts as never
// verified (unverified is what a reader may always fall back to).
func decodeIsolation(b []byte) Isolation {
	if len(b) < isolationRecordV1Len || b[0] != isolationRecordV1 {
		return Isolation{}
	}
	n := int(b[17])
	if n == 0 || n > maxVerdictLen || len(b) < isolationRecordV1Len+n {
		return Isolation{}
	}
	switch verdict := string(b[18 : 18+n]); verdict {
	case VerdictIsolated, VerdictLeaky, VerdictCutOff:
		return Isolation{
			Verdict: verdict,
			At:      time.Unix(0, int64(binary.BigEndian.Uint64(b[9:]))).UTC(),
			gen:     binary.BigEndian.Uint64(b[1:]),
		}
	}
	return Isolation{}
}

// isolationOf reads slug's isolation record directly.
func isolationOf(tx *bolt.Tx, slug string) Isolation {
	if b := tx.Bucket(bucketIsolation); b != nil {
		return decodeIsolation(b.Get([]byte(slug)))
	}
	return Isolation{}
}

// joinIsolation reads the isolation bucket beside a walk of the leases in
// storage order, as joinVacancy reads the vacancies.
func joinIsolation(tx *bolt.Tx) *vacancyJoin {
	b := tx.Bucket(bucketIsolation)
	if b == nil {
		return &vacancyJoin{}
	}
	j := &vacancyJoin{c: b.Cursor()}
	j.k, j.v = j.c.First()
	return j
}

// putIsolation records v for slug, creating the bucket in a database
// made before it; a zero v removes the entry.
func putIsolation(tx *bolt.Tx, slug string, v Isolation) error {
	if v.Verdict == "" {
		if b := tx.Bucket(bucketIsolation); b != nil {
			return b.Delete([]byte(slug))
		}
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketIsolation)
	if err != nil {
		return err
	}
	return b.Put([]byte(slug), encodeIsolation(v))
}

// Status is what list and the health report say of the isolation:
// "verified" (verify found it isolated), "leaky", "cut-off", or
// "unverified" when verify never ran for this generation.
func (v Isolation) Status() string {
	switch v.Verdict {
	case VerdictIsolated:
		return "verified"
	case VerdictLeaky, VerdictCutOff:
		return v.Verdict
	}
	return "unverified"
}
