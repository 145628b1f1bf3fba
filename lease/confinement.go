package lease

import (
	"encoding/binary"
	"net/netip"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Confinement is the firewall confinement of one process holder's tree:
// the sockets of its cgroup reach, among the host's own addresses and
// bridges, only Alias and Allow. The lease package only records it, with
// its holder; the isolation package (internal/confine) installs the rules,
// restores them under a live tree and removes them once the tree is gone.
type Confinement struct {
	// Alias is the lease's alias, the one local address the tree may
	// reach on any port.
	Alias netip.Addr
	// CgroupID and Level are what the rules match a socket's cgroup by
	// ("socket cgroupv2 level Level" equal to CgroupID).
	CgroupID uint64
	Level    uint32
	// Allow holds the other local destinations it may reach, TCP and UDP:
	// the local nameservers on port 53, each --confine-allow.
	Allow []netip.AddrPort
	// Since is when the confinement was first installed.
	Since time.Time
}

// The confinements bucket (slug + "\x00" + run id -> record, the key of
// the holder it confines) sits beside the holders bucket, so that a
// holder's record keeps version 1's layout and binaries that know holders
// but not confinements still see the tree as a holder. An entry without a
// holder entry of the same key confines nothing, and goes with its holder
// (deleteHolders). A record is a version byte (1), CgroupID, Level, Since
// (Unix ns), the alias (a length byte, then 4 or 16 bytes), a count of
// Allow entries (2 bytes), then each as a length byte, the address and a
// port (2 bytes); bytes after those are a newer binary's, and ignored.
var bucketConfinements = []byte("confinements")

const (
	confinementRecordV1 = 1
	maxConfineAllow     = 1024 // far more than any command line gives
)

func encodeConfinement(c Confinement) []byte {
	b := make([]byte, 0, 64+19*len(c.Allow))
	b = append(b, confinementRecordV1)
	b = binary.BigEndian.AppendUint64(b, c.CgroupID)
	b = binary.BigEndian.AppendUint32(b, c.Level)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Since.UnixNano()))
	b = appendAddr(b, c.Alias)
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.Allow)))
	for _, ap := range c.Allow {
		b = appendAddr(b, ap.Addr())
		b = binary.BigEndian.AppendUint16(b, ap.Port())
	}
	return b
}

func appendAddr(b []byte, a netip.Addr) []byte {
	s := a.AsSlice()
	return append(append(b, byte(len(s))), s...)
}

// decodeConfinement reads a record; ok is false for one it cannot read.
// Such a holder is kept as a holder (its tree still holds the lease) but
// shown unconfined, which is what the firewall would then be checked for.
func decodeConfinement(b []byte) (c Confinement, ok bool) {
	if len(b) < 1+8+4+8 || b[0] != confinementRecordV1 {
		return Confinement{}, false
	}
	c.CgroupID = binary.BigEndian.Uint64(b[1:])
	c.Level = binary.BigEndian.Uint32(b[9:])
	c.Since = time.Unix(0, int64(binary.BigEndian.Uint64(b[13:]))).UTC()
	rest := b[21:]
	if c.Alias, rest, ok = readAddr(rest); !ok || len(rest) < 2 {
		return Confinement{}, false
	}
	n := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if n > maxConfineAllow {
		return Confinement{}, false
	}
	for range n {
		var a netip.Addr
		if a, rest, ok = readAddr(rest); !ok || len(rest) < 2 {
			return Confinement{}, false
		}
		c.Allow = append(c.Allow, netip.AddrPortFrom(a, binary.BigEndian.Uint16(rest)))
		rest = rest[2:]
	}
	return c, c.CgroupID != 0 && c.Level != 0
}

func readAddr(b []byte) (netip.Addr, []byte, bool) {
	if len(b) < 1 || (b[0] != 4 && b[0] != 16) || len(b) < 1+int(b[0]) {
		return netip.Addr{}, nil, false
	}
	a, _ := netip.AddrFromSlice(b[1 : 1+b[0]])
	return a, b[1+b[0]:], true
}

// confinementOf fills in h's confinement from the bucket, if it has one.
func confinementOf(b *bolt.Bucket, h *ProcessHolder) {
	if b == nil {
		return
	}
	if v := b.Get(holderKey(h.Slug, h.RunID)); v != nil {
		if c, ok := decodeConfinement(v); ok {
			h.Confined = &c
		}
	}
}

// putConfinement records h's confinement, or removes the entry when h has
// none.
func putConfinement(tx *bolt.Tx, h ProcessHolder) error {
	k := holderKey(h.Slug, h.RunID)
	if h.Confined == nil {
		if b := tx.Bucket(bucketConfinements); b != nil {
			return b.Delete(k)
		}
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketConfinements)
	if err != nil {
		return err
	}
	return b.Put(k, encodeConfinement(*h.Confined))
}
