package main

import (
	"encoding/binary"
	"net/netip"
	"slices"
)

// sortedRows keeps rendered rows in memory and gives them back in alias
// order. The library yields decisions in the order the database stores
// them; with a full pool, sorting one 8-byte key per rendered row costs a
// fraction of putting the decisions in order. Rows are appended to
// chunks of a fixed size, never copied to grow one buffer, and nothing
// in them is a pointer for the garbage collector to follow.
type sortedRows struct {
	buf    []byte   // the chunk being filled
	chunks [][]byte // the chunks filled before it
	starts []uint64 // chunk<<32 | offset of each row, in the order added
	keys   []uint64 // alias<<32 | row number
}

// rowChunk is the size of a chunk of rows; a row starts a new chunk when
// fewer than rowRoom bytes are left (a longer row grows its chunk).
const rowChunk, rowRoom = 256 << 10, 1 << 10

// begin starts the row of alias.
func (s *sortedRows) begin(alias netip.Addr) {
	if cap(s.buf)-len(s.buf) < rowRoom {
		if s.buf != nil {
			s.chunks = append(s.chunks, s.buf)
		}
		s.buf = make([]byte, 0, rowChunk)
	}
	a := alias.As4()
	s.keys = append(s.keys, uint64(binary.BigEndian.Uint32(a[:]))<<32|uint64(len(s.starts)))
	s.starts = append(s.starts, uint64(len(s.chunks))<<32|uint64(len(s.buf)))
}

// each calls fn with every row, in alias order.
func (s *sortedRows) each(fn func(row []byte)) {
	s.eachKey(func(_ uint64, row []byte) { fn(row) })
}

// eachKey calls fn with every row and its key, in alias order.
func (s *sortedRows) eachKey(fn func(key uint64, row []byte)) {
	if s.buf != nil {
		s.chunks, s.buf = append(s.chunks, s.buf), nil
	}
	sortKeys(s.keys)
	for _, k := range s.keys {
		i := uint32(k)
		chunk := s.chunks[s.starts[i]>>32]
		end := len(chunk)
		if int(i)+1 < len(s.starts) && s.starts[i+1]>>32 == s.starts[i]>>32 {
			end = int(uint32(s.starts[i+1]))
		}
		fn(k, chunk[uint32(s.starts[i]):end])
	}
}

// keyAlias is the IPv4 address in a row's key.
func keyAlias(key uint64) netip.Addr {
	a := uint32(key >> 32)
	return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
}

// sortKeys sorts keys (alias<<32 | row number) by alias, and the rows of
// one alias in the order added: a stable counting sort on each 16-bit
// half of the alias (the row numbers come in increasing order), where a
// comparison sort of a full pool's keys took a tenth of list's time.
func sortKeys(keys []uint64) {
	if slices.IsSorted(keys) {
		return
	}
	if len(keys) < 1<<10 {
		slices.Sort(keys)
		return
	}
	from, to := keys, make([]uint64, len(keys))
	count := make([]uint32, 1<<16)
	for _, shift := range []uint{32, 48} {
		clear(count)
		for _, k := range from {
			count[uint16(k>>shift)]++
		}
		var sum uint32
		for i, c := range count {
			count[i], sum = sum, sum+c
		}
		for _, k := range from {
			d := uint16(k >> shift)
			to[count[d]] = k
			count[d]++
		}
		from, to = to, from
	}
	// Two passes: the sorted keys are back in keys.
}
