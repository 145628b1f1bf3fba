package main

import (
	"bufio"
	"encoding/binary"
	"io"
	"strconv"
	"time"
)

// jsonRows is an array of objects, as json.Encoder with an indent of two
// spaces writes one, built an element at a time. A lease without holders
// (nearly every row of a large list) is kept in a compact form (a few
// dozen bytes, not the two hundred of its JSON) and written at the end by
// appendCompact, byte for byte as encoding/json writes its object; any
// other row is kept as encoding/json renders it.
type jsonRows struct{ sortedRows }

// The first byte of a JSON row: how the rest is kept.
const (
	jsonCompact  = 0 // slug, generation, times, state, reason, isolation (see add)
	jsonRendered = 1 // the element, rendered
)

func (j *jsonRows) add(r rowCells) error {
	if compactJSON(&r) {
		j.begin(r.alias)
		j.buf = append(j.buf, jsonCompact)
		j.buf = appendField(j.buf, r.slug)
		j.buf = binary.AppendUvarint(j.buf, r.generation)
		j.buf = binary.AppendVarint(j.buf, r.acquiredAt.UnixNano())
		j.buf = binary.AppendVarint(j.buf, r.renewedAt.UnixNano())
		j.buf = binary.AppendVarint(j.buf, unixOrZero(r.heldAt))
		j.buf = binary.AppendVarint(j.buf, unixOrZero(r.vacant))
		j.buf = appendField(j.buf, r.state)
		j.buf = appendField(j.buf, r.reason)
		j.buf = appendField(j.buf, r.isolation)
		return nil
	}
	b, err := marshalJSON(r.object(true), "  ", "  ")
	if err != nil {
		return err
	}
	j.begin(r.alias)
	j.buf = append(append(j.buf, jsonRendered), b...)
	return nil
}

// compactJSON says whether r is a row appendCompact writes as
// encoding/json writes its object: a lease without holders, on an IPv4
// alias, its times exact in Unix nanoseconds.
func compactJSON(r *rowCells) bool {
	exact := func(t time.Time) bool { return time.Unix(0, t.UnixNano()).Equal(t) }
	return r.leased && len(r.holders) == 0 && r.alias.Is4() && exact(r.acquiredAt) && exact(r.renewedAt) &&
		(r.heldAt.IsZero() || exact(r.heldAt)) && (r.vacant.IsZero() || exact(r.vacant))
}

// unixOrZero is t in Unix nanoseconds, 0 for the zero time (never).
func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// appendField appends a string with its length (uvarint).
func appendField(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// readField reads what appendField wrote, and returns the rest.
func readField(b []byte) (string, []byte) {
	n, k := binary.Uvarint(b)
	return string(b[k : k+int(n)]), b[k+int(n):]
}

// appendCompact appends the element of a compact row (see add) on the
// row's key, as marshalJSON(r.object(true), "  ", "  ") writes it.
func appendCompact(b, row []byte, key uint64) []byte {
	slug, row := readField(row)
	gen, k := binary.Uvarint(row)
	acq, m := binary.Varint(row[k:])
	ren, n := binary.Varint(row[k+m:])
	row = row[k+m+n:]
	held, k := binary.Varint(row)
	vacant, m := binary.Varint(row[k:])
	state, row := readField(row[k+m:])
	reason, row := readField(row)
	isolation, _ := readField(row)
	b = appendJSONString(append(b, "{\n    \"slug\": "...), slug)
	b = append(b, ",\n    \"alias\": \""...)
	b = append(keyAlias(key).AppendTo(b), '"')
	if state != "" {
		b = appendJSONString(append(b, ",\n    \"state\": "...), state)
	}
	if gen != 0 {
		b = strconv.AppendUint(append(b, ",\n    \"generation\": "...), gen, 10)
	}
	b = time.Unix(0, acq).UTC().AppendFormat(append(b, ",\n    \"acquired_at\": \""...), time.RFC3339Nano)
	b = time.Unix(0, ren).UTC().AppendFormat(append(b, "\",\n    \"renewed_at\": \""...), time.RFC3339Nano)
	if held != 0 {
		b = time.Unix(0, held).UTC().AppendFormat(append(b, "\",\n    \"held_at\": \""...), time.RFC3339Nano)
	}
	if vacant != 0 {
		b = time.Unix(0, vacant).UTC().AppendFormat(append(b, "\",\n    \"vacant_since\": \""...), time.RFC3339Nano)
	}
	b = appendJSONString(append(b, "\",\n    \"isolation\": "...), isolation)
	b = append(b, ",\n    \"holders\": []"...)
	if reason != "" {
		b = appendJSONString(append(b, ",\n    \"reason\": "...), reason)
	}
	return append(b, "\n  }"...)
}

// appendJSONString appends s as marshalJSON writes a string: as it is
// when it is printable ASCII without a quote or a backslash, else through
// marshalJSON itself (<, > and & are not escaped: see writeJSON).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			q, _ := marshalJSON(s, "", "")
			return append(b, q...)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}

func (j *jsonRows) end(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	sep := "[\n  "
	j.eachKey(func(key uint64, row []byte) {
		b := append(bw.AvailableBuffer(), sep...)
		if row[0] == jsonCompact {
			b = appendCompact(b, row[1:], key)
		} else {
			b = append(b, row[1:]...)
		}
		bw.Write(b)
		sep = ",\n  "
	})
	if len(j.keys) == 0 {
		bw.WriteString("[]\n")
	} else {
		bw.WriteString("\n]\n")
	}
	return bw.Flush()
}
