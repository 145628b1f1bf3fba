package lease

import (
	"iter"

	bolt "go.etcd.io/bbolt"

	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

func aliasKey(a netip.Addr) []byte { return u32Key(addrToU32(a)) }

func u32Key(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// A lease is stored as a version byte, the alias, the generation, and the
// acquired and renewed times in Unix nanoseconds (version 1); version 2
// adds held_at (Unix nanoseconds, 0 for never) and the holding process.
const (
	leaseRecordV1, leaseRecordV1Len = 1, 1 + 4 + 8 + 8 + 8
	leaseRecordV2, leaseRecordV2Len = 2, leaseRecordV1Len + 8 + 4
)

func encodeLease(l Lease) []byte {
	b := make([]byte, 0, leaseRecordV2Len+len(l.newer))
	b = append(b, leaseRecordV2)
	b = binary.BigEndian.AppendUint32(b, addrToU32(l.Alias))
	b = binary.BigEndian.AppendUint64(b, l.Generation)
	b = binary.BigEndian.AppendUint64(b, uint64(l.AcquiredAt.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(l.RenewedAt.UnixNano()))
	var held uint64
	if !l.HeldAt.IsZero() {
		held = uint64(l.HeldAt.UnixNano())
	}
	b = binary.BigEndian.AppendUint64(b, held)
	b = binary.BigEndian.AppendUint32(b, uint32(l.PID))
	return append(b, l.newer...)
}

// decodeLease reads a record: version 1, or version 2 followed by the
// fields a newer binary of the same schema added, which are kept as they
// are (Lease.newer) when the record is written again.
func decodeLease(slug string, b []byte) (Lease, error) {
	if !recordValid(b) {
		if len(b) >= 5 && (b[0] == leaseRecordV1 || b[0] == leaseRecordV2) && !leasable(binary.BigEndian.Uint32(b[1:])) {
			return Lease{}, fmt.Errorf("%w: lease record of %q names %s, which no pool can hold", ErrCorrupt, slug, u32ToAddr(binary.BigEndian.Uint32(b[1:])))
		}
		return Lease{}, fmt.Errorf("%w: lease record of %q is damaged", ErrCorrupt, slug)
	}
	l := Lease{
		Slug:       slug,
		Alias:      u32ToAddr(binary.BigEndian.Uint32(b[1:])),
		Generation: binary.BigEndian.Uint64(b[5:]),
		AcquiredAt: time.Unix(0, int64(binary.BigEndian.Uint64(b[13:]))).UTC(),
		RenewedAt:  time.Unix(0, int64(binary.BigEndian.Uint64(b[21:]))).UTC(),
	}
	if b[0] == leaseRecordV2 {
		if held := binary.BigEndian.Uint64(b[29:]); held != 0 {
			l.HeldAt = time.Unix(0, int64(held)).UTC()
		}
		l.PID = int(binary.BigEndian.Uint32(b[37:]))
		l.newer = string(b[leaseRecordV2Len:])
	}
	return l, nil
}

// byAlias orders leases by alias, the order of every listing.
func byAlias(a, b Lease) int { return cmp.Compare(addrToU32(a.Alias), addrToU32(b.Alias)) }

// aliasIndex walks the alias index (4-byte alias -> slug) from an alias
// upward; keys of any other length are not aliases and are skipped.
func aliasIndex(b *bolt.Bucket) leasedFrom {
	return func(from uint32) iter.Seq[uint32] {
		return func(yield func(uint32) bool) {
			c := b.Cursor()
			for k, _ := c.Seek(u32Key(from)); k != nil; k, _ = c.Next() {
				if len(k) == 4 && !yield(binary.BigEndian.Uint32(k)) {
					return
				}
			}
		}
	}
}

// peeked is what a sweep judges a lease by, read from its record's bytes.
type peeked struct {
	alias   netip.Addr
	gen     uint64
	renewed time.Time
	seen    time.Time // when last wanted: the later of renewed and held_at
	pid     int       // the holding process, or zero
}

// peekLease reads what a sweep judges from a valid record without
// decoding it (no slug copied).
func peekLease(b []byte) peeked {
	p := peeked{alias: u32ToAddr(binary.BigEndian.Uint32(b[1:])), gen: binary.BigEndian.Uint64(b[5:])}
	renewed := int64(binary.BigEndian.Uint64(b[21:]))
	seen := renewed
	if b[0] == leaseRecordV2 {
		seen = max(seen, int64(binary.BigEndian.Uint64(b[29:])))
		p.pid = int(binary.BigEndian.Uint32(b[37:]))
	}
	p.renewed, p.seen = time.Unix(0, renewed), time.Unix(0, seen)
	return p
}
