package safefile

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
)

// The parts of bbolt's file format (v1.5.0) the checks read.
const (
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	pageHeaderLen   = 16
	metaChecksumOff = 56
)

// CheckFile validates a database file's meta pages before bbolt maps it.
// bbolt initialises an empty file as a new database, panics or dies of
// SIGBUS on a truncated one, and never compares the file size with the
// size its meta page records; this check refuses all of those, reading
// only. f is the file at path, of size bytes.
func CheckFile(f io.ReaderAt, path string, size int64) error {
	if size == 0 {
		return fmt.Errorf("%w: %s is empty", ErrCorrupt, path)
	}
	var valid []boltMeta
	if m, ok := readMeta(f, 0); ok {
		valid = append(valid, m)
		if m1, ok := readMeta(f, int64(m.pageSize)); ok {
			valid = append(valid, m1)
		}
	} else {
		// The first meta page is damaged; bbolt falls back to the second,
		// whose offset is the page size, so try each it could be.
		for ps := int64(1024); ps <= 1<<16; ps *= 2 {
			if m1, ok := readMeta(f, ps); ok && int64(m1.pageSize) == ps {
				valid = append(valid, m1)
				break
			}
		}
	}
	if len(valid) == 0 && !LooksLikeBolt(f) {
		return fmt.Errorf("%w: %s is not a bbolt database (no meta page)", ErrNotDatabase, path)
	}
	if len(valid) == 0 {
		return fmt.Errorf("%w: %s is a damaged bbolt database (no valid meta page)", ErrCorrupt, path)
	}
	for _, m := range valid {
		need := int64(m.pgid) * int64(m.pageSize)
		if need > size || int64(2*m.pageSize) > size {
			return fmt.Errorf("%w: %s is truncated (%d bytes, its meta page records %d)", ErrCorrupt, path, size, need)
		}
		if m.root >= m.pgid || (m.freelist >= m.pgid && m.freelist != ^uint64(0)) {
			return fmt.Errorf("%w: %s has a meta page pointing past its end", ErrCorrupt, path)
		}
	}
	return nil
}

// boltMeta is the part of bbolt's meta page this package checks. Its
// layout (after a 16-byte page header, in native byte order) is
// magic, version, page size, flags (uint32 each), root page id and
// sequence, freelist page id, high-water page id, txid, checksum (uint64
// each); the checksum is FNV-64a of everything before it.
type boltMeta struct {
	pageSize       uint32
	root, freelist uint64
	pgid           uint64
}

func readMeta(r io.ReaderAt, off int64) (boltMeta, bool) {
	var b [pageHeaderLen + metaChecksumOff + 8]byte
	if _, err := r.ReadAt(b[:], off); err != nil {
		return boltMeta{}, false
	}
	m := b[pageHeaderLen:]
	ne := binary.NativeEndian
	if ne.Uint32(m[0:]) != boltMagic || ne.Uint32(m[4:]) != boltVersion {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	h.Write(m[:metaChecksumOff])
	if h.Sum64() != ne.Uint64(m[metaChecksumOff:]) {
		return boltMeta{}, false
	}
	ps := ne.Uint32(m[8:])
	if ps < 1024 || ps > 1<<16 || ps&(ps-1) != 0 {
		return boltMeta{}, false
	}
	return boltMeta{
		pageSize: ps,
		root:     ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]),
		pgid:     ne.Uint64(m[40:]),
	}, true
}

// LooksLikeBolt says whether a file holds a bbolt meta page's magic
// number where bbolt would look for one (page 0, or the second meta
// page at any page size), valid checksum or not: a damaged bbolt
// database rather than some other file.
func LooksLikeBolt(f io.ReaderAt) bool {
	for off := int64(0); off <= 1<<16; off = max(1024, 2*off) {
		var b [pageHeaderLen + 8]byte
		if _, err := f.ReadAt(b[:], off); err != nil {
			return false
		}
		m := b[pageHeaderLen:]
		if binary.NativeEndian.Uint32(m[0:]) == boltMagic && binary.NativeEndian.Uint32(m[4:]) == boltVersion {
			return true
		}
	}
	return false
}
