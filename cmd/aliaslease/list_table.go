package main

import (
	"bufio"
	"encoding/binary"
	"io"
	"unicode/utf8"
)

// tableRows is the default table: SLUG ALIAS STATE AGE SEEN VACANT ISOLATION HOLDERS, without a
// template, its columns aligned at the end as text/tabwriter would align
// them (padding 2), with none of its per-cell work. A list of a full pool's
// leases would spend most of its time executing a template, and much of
// the rest collecting garbage. A row is kept as a small header (the
// slug's length in bytes and in runes, as uvarints; the lengths of the
// other padded cells, a byte each: they are ASCII) and the
// cells, holders last, with its newline.
type tableRows struct {
	sortedRows
	width [tablePadded]int // the widest cell of each padded column, in runes
}

// tableHeader heads the default table's columns.
var tableHeader = [tablePadded + 1]string{"SLUG", "ALIAS", "STATE", "AGE", "SEEN", "VACANT", "ISOLATION", "HOLDERS\n"}

// tablePadded is how many of its columns are padded: all but HOLDERS.
const tablePadded = 7

func (t *tableRows) add(r rowCells) error {
	t.begin(r.alias)
	runes := utf8.RuneCountInString(r.slugText)
	t.buf = binary.AppendUvarint(t.buf, uint64(len(r.slugText)))
	t.buf = binary.AppendUvarint(t.buf, uint64(runes))
	lens := len(t.buf)
	t.buf = append(t.buf, make([]byte, tablePadded-1)...)
	t.buf = append(t.buf, r.slugText...)
	t.width[0] = max(t.width[0], runes)
	// cell records the length of the column-th cell, appended since start.
	cell := func(column, start int) {
		n := len(t.buf) - start
		t.buf[lens+column-1] = byte(n)
		t.width[column] = max(t.width[column], n)
	}
	start := len(t.buf)
	t.buf = r.alias.AppendTo(t.buf)
	cell(1, start)
	start = len(t.buf)
	t.buf = append(t.buf, r.state...)
	cell(2, start)
	start = len(t.buf)
	t.buf = r.appendAge(t.buf)
	cell(3, start)
	start = len(t.buf)
	t.buf = r.appendSince(t.buf, r.heldAt)
	cell(4, start)
	start = len(t.buf)
	t.buf = r.appendSince(t.buf, r.vacant)
	cell(5, start)
	start = len(t.buf)
	t.buf = append(t.buf, r.isolation...)
	cell(6, start)
	t.buf = append(append(t.buf, r.holderNames()...), '\n')
	return nil
}

func (t *tableRows) end(w io.Writer) error {
	for i, h := range tableHeader[:tablePadded] {
		t.width[i] = max(t.width[i], len(h))
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	line := bw.AvailableBuffer()
	for i, h := range tableHeader {
		line = append(line, h...)
		if i < tablePadded {
			line = pad(line, t.width[i]-len(h)+2)
		}
	}
	bw.Write(line)
	// Each line is appended to the writer's free space and written at
	// once: one copy, no call per cell.
	t.each(func(row []byte) { bw.Write(t.appendLine(bw.AvailableBuffer(), row)) })
	return bw.Flush()
}

// appendLine appends a row as a line of the table.
func (t *tableRows) appendLine(line, row []byte) []byte {
	size, k := binary.Uvarint(row)
	runes, m := binary.Uvarint(row[k:])
	lens, row := row[k+m:k+m+tablePadded-1], row[k+m+tablePadded-1:]
	line = pad(append(line, row[:size]...), t.width[0]-int(runes)+2)
	row = row[size:]
	for i, n := range lens {
		line = pad(append(line, row[:n]...), t.width[i+1]-int(n)+2)
		row = row[n:]
	}
	return append(line, row...)
}

// pad appends n spaces.
func pad(b []byte, n int) []byte {
	for ; n > 0; n -= len(spaces) {
		b = append(b, spaces[:min(n, len(spaces))]...)
	}
	return b
}

// spaces pads the table's columns.
const spaces = "                                                                "
