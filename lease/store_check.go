package lease

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"

	bolt "go.etcd.io/bbolt"
)

// Consistency on write. The leases (slug → record) and the alias index
// (alias → slug) must agree one to one. Every write transaction checks
// the records it touches (checkIndexed, checkFree), and before it writes
// anything it makes sure the whole file was consistent: either the last
// commit was made by a writer that verified it and kept it so (the
// "verified" mark in meta names that commit's transaction id, which
// bbolt increments by one per commit), or it reads every lease record
// and the whole index now (checkRecords). So the whole file is read only
// after something other than this code wrote it (another program, an
// older aliaslease, a crafted or repaired file); damage at rest after a
// verified commit (bbolt keeps no checksum of its data pages) shows when
// a record is read: by any command touching it, and by list, gc and
// doctor, which read them all (so does a new lease under Docker, unless
// the seen floor says no lease can be stale yet).

// keyVerified, in meta, holds the transaction id of the last commit made
// by a writer that verified the file first.
var keyVerified = []byte("verified")

// keyIndexSum, in meta, holds the number of alias index entries and the
// sum of indexPairHash over them (8 bytes each), as the verified writers
// left them: putLease and deleteLease keep it up to date.
var keyIndexSum = []byte("index-sum")

// verify refuses (ErrCorrupt) a database whose records contradict each
// other. A file whose previous commit was verified, and whose alias
// index is still the one the verified writers kept (its entries' count
// and sum are those recorded), is trusted without reading the lease
// records: a mark copied or forged without the index's sum, or an index
// changed since, sends it to the full check (checkRecords), after which
// the sum is recorded anew.
func verify(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if v := meta.Get(keyVerified); len(v) == 8 && binary.BigEndian.Uint64(v) == uint64(tx.ID()-1) {
		if want := meta.Get(keyIndexSum); len(want) == 16 {
			n, sum := indexSum(tx)
			if n == binary.BigEndian.Uint64(want) && sum == binary.BigEndian.Uint64(want[8:]) {
				return nil
			}
		}
	}
	if err := checkRecords(tx); err != nil {
		return err
	}
	return putIndexSum(tx)
}

// markVerified records that this transaction's commit is verified (and,
// on a file just created, the sum of its index).
func markVerified(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if len(meta.Get(keyIndexSum)) != 16 {
		if err := putIndexSum(tx); err != nil {
			return err
		}
	}
	return meta.Put(keyVerified, binary.BigEndian.AppendUint64(nil, uint64(tx.ID())))
}

// indexSum walks the alias index once: its entries' count and the sum of
// their indexPairHash.
func indexSum(tx *bolt.Tx) (n, sum uint64) {
	c := tx.Bucket(bucketAliases).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		n++
		sum += indexPairHash(k, v)
	}
	return n, sum
}

// putIndexSum records the index's count and sum as they are now.
func putIndexSum(tx *bolt.Tx) error {
	n, sum := indexSum(tx)
	return tx.Bucket(bucketMeta).Put(keyIndexSum, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, n), sum))
}

// adjustIndexSum adds the index entry of l to the recorded sum (or, with
// add false, takes it away), as putLease and deleteLease change the
// index. Without a recorded sum there is nothing to adjust: the next
// verify recomputes it.
func adjustIndexSum(tx *bolt.Tx, l Lease, add bool) error {
	meta := tx.Bucket(bucketMeta)
	v := meta.Get(keyIndexSum)
	if len(v) != 16 {
		return nil
	}
	n, sum, h := binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), indexPairHash(aliasKey(l.Alias), []byte(l.Slug))
	if add {
		n, sum = n+1, sum+h
	} else {
		n, sum = n-1, sum-h
	}
	return meta.Put(keyIndexSum, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, n), sum))
}

// indexPairHash mixes an index key and its slug into 64 bits, the same
// in every process (it is stored, unlike pairHash's sums): the slug a
// word at a time, each word and then the key folded in through
// splitmix64's finalizer, so that the sum changes when two slugs swap
// aliases.
func indexPairHash(key, slug []byte) uint64 {
	h := uint64(len(slug))*0x9e3779b97f4a7c15 ^ uint64(len(key))
	for len(slug) > 0 {
		var w [8]byte
		n := copy(w[:], slug)
		h = mix64(h ^ binary.LittleEndian.Uint64(w[:]))
		slug = slug[n:]
	}
	for len(key) > 0 {
		var w [8]byte
		n := copy(w[:], key)
		h = mix64(h ^ binary.LittleEndian.Uint64(w[:]) ^ 0xa0761d6478bd642f)
		key = key[n:]
	}
	return h
}

// mix64 is splitmix64's finalizer.
func mix64(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

// checkRecords reads every lease record and index entry: each record
// must decode, and the pairs (alias, slug) of the leases must be those of
// the index.
func checkRecords(tx *bolt.Tx) error { return eachRecord(tx, nil) }

// eachRecord is the one walk over the lease records that every full read
// makes (the check, the sweep, list): it calls fn, when not nil, with
// each valid record in storage order, and checks them all against the
// alias index in the same pass: it compares the sums of a hash of each
// (alias, slug) pair, one sequential pass over each bucket without
// lookups, and only when they differ looks for the first disagreement to
// name it. A record that does not decode, or a disagreement, is
// ErrCorrupt; an error from fn ends the walk and is returned as it is.
func eachRecord(tx *bolt.Tx, fn func(k, v []byte) error) error {
	var fromLeases uint64
	c := tx.Bucket(bucketLeases).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if !recordValid(v) {
			_, err := decodeLease(string(k), v)
			return err
		}
		fromLeases += pairHash(v[1:5], k)
		if fn != nil {
			if err := fn(k, v); err != nil {
				return err
			}
		}
	}
	var fromIndex uint64
	c = tx.Bucket(bucketAliases).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		fromIndex += pairHash(k, v)
	}
	if fromLeases == fromIndex {
		return nil
	}
	return disagreement(tx)
}

// pairSeed seeds pairHash. Sums are only ever compared within one
// process, never stored, so a random seed costs nothing.
var pairSeed = maphash.MakeSeed()

// pairHash mixes an alias key and a slug into 64 bits: maphash of the slug
// (a word at a time, where FNV-1a took a byte at a time and was a fifth of
// gc's sweep with a full pool), the alias folded in, then splitmix64's
// finalizer, so that the sum over all pairs changes when two slugs swap
// aliases.
func pairHash(alias, slug []byte) uint64 {
	a := uint64(len(alias)) << 32
	if len(alias) == 4 {
		a |= uint64(binary.BigEndian.Uint32(alias))
	} else { // only in a damaged index
		a ^= maphash.Bytes(pairSeed, alias)
	}
	h := maphash.Bytes(pairSeed, slug) ^ a*0x9e3779b97f4a7c15
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

// disagreement names the first place where the leases and the index
// disagree; it returns ErrCorrupt in any case, having been called
// because they do.
func disagreement(tx *bolt.Tx) error {
	leases := tx.Bucket(bucketLeases)
	err := leases.ForEach(func(k, v []byte) error {
		l, err := decodeLease(string(k), v)
		if err == nil {
			err = checkIndexed(tx, l)
		}
		return err
	})
	if err != nil {
		return err
	}
	err = tx.Bucket(bucketAliases).ForEach(func(k, v []byte) error {
		if r := leases.Get(v); len(k) != 4 || !recordValid(r) || !bytes.Equal(r[1:5], k) {
			name := fmt.Sprintf("%x", k)
			if len(k) == 4 {
				name = u32ToAddr(binary.BigEndian.Uint32(k)).String()
			}
			return fmt.Errorf("%w: the alias index names %q for %s, which that slug does not hold", ErrCorrupt, v, name)
		}
		return nil
	})
	if err == nil {
		err = fmt.Errorf("%w: the alias index and the leases disagree", ErrCorrupt)
	}
	return err
}

// checkIndexed makes sure the alias index names l's slug for l's alias,
// as it must for every lease a transaction renews, changes or removes.
func checkIndexed(tx *bolt.Tx, l Lease) error {
	if got := tx.Bucket(bucketAliases).Get(aliasKey(l.Alias)); string(got) != l.Slug {
		if got == nil {
			return fmt.Errorf("%w: %s holds %s, but the alias index has no entry for it", ErrCorrupt, l.Slug, l.Alias)
		}
		return fmt.Errorf("%w: %s holds %s, but the alias index names %q for it", ErrCorrupt, l.Slug, l.Alias, got)
	}
	return nil
}

// checkFree makes sure neither l's slug nor l's alias is taken, as they
// must not be for a new lease.
func checkFree(tx *bolt.Tx, l Lease) error {
	if got := tx.Bucket(bucketAliases).Get(aliasKey(l.Alias)); got != nil {
		return fmt.Errorf("%w: %s is already indexed to %q", ErrCorrupt, l.Alias, got)
	}
	if tx.Bucket(bucketLeases).Get([]byte(l.Slug)) != nil {
		return fmt.Errorf("%w: %s already holds a lease", ErrCorrupt, l.Slug)
	}
	return nil
}

// recordValid says whether a lease record has a known version and its
// length (version 2 at least: a newer binary of the schema may add
// fields after it), and an alias that can be leased at all (in
// 127.0.0.0/8, not 127.0.0.0, 127.0.0.1 or 127.255.255.255, which no
// pool holds): exactly what decodeLease requires.
func recordValid(b []byte) bool {
	return (len(b) == leaseRecordV1Len && b[0] == leaseRecordV1 ||
		len(b) >= leaseRecordV2Len && b[0] == leaseRecordV2) && leasable(binary.BigEndian.Uint32(b[1:]))
}

// leasable says whether a stored alias is one a pool can hold.
func leasable(a uint32) bool {
	return a>>24 == 127 && a != 0x7f000000 && a != 0x7f000001 && a != 0x7fffffff
}

// Check verifies the database: bbolt's consistency check of every page,
// then that every lease is readable and that the lease and alias indexes
// agree one to one (an alias leased to one slug, a slug holding one alias).
// Problems are ErrCorrupt.
func (s *store) Check() error {
	return s.view(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() { // drain: the checker stops only at the end
			if first == nil {
				first = fmt.Errorf("%w: %s: %v", ErrCorrupt, s.path, err)
			}
		}
		if first != nil {
			return first
		}
		return checkRecords(tx)
	})
}
