package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/aliaslease/aliaslease/lease"
)

// rows renders list's rows into memory one decision at a time, and
// writes them out, in alias order, at the end.
type rows interface {
	add(d lease.Decision, now time.Time) error
	end(w io.Writer) error
}

// rowWriter returns the rows for the format: JSON (--json or "json"),
// the default table, or a template.
func rowWriter(tmpl *template.Template, table, asJSON bool) rows {
	switch {
	case asJSON || tmpl == nil && !table:
		return &jsonRows{}
	case tmpl == nil:
		return &tableRows{}
	}
	return &templateRows{tmpl: tmpl, table: table}
}

// sortedRows keeps rendered rows in one buffer and gives them back in
// alias order. The library yields decisions in the order the database
// stores them; at 65,536 leases, sorting one 8-byte key per rendered row
// costs a fraction of putting the decisions in order, and one buffer
// leaves the garbage collector nothing to follow.
type sortedRows struct {
	buf    []byte
	starts []uint32 // where each row begins in buf, in the order added
	keys   []uint64 // alias<<32 | row number
}

// begin starts the row of d.
func (s *sortedRows) begin(d lease.Decision) {
	a := d.Alias.As4()
	s.keys = append(s.keys, uint64(binary.BigEndian.Uint32(a[:]))<<32|uint64(len(s.starts)))
	s.starts = append(s.starts, uint32(len(s.buf)))
}

// each calls fn with every row, in alias order.
func (s *sortedRows) each(fn func(row []byte)) {
	if !slices.IsSorted(s.keys) {
		slices.Sort(s.keys)
	}
	for _, k := range s.keys {
		i := uint32(k)
		end := len(s.buf)
		if int(i)+1 < len(s.starts) {
			end = int(s.starts[i+1])
		}
		fn(s.buf[s.starts[i]:end])
	}
}

// jsonRows is an array of objects, as json.Encoder with an indent of two
// spaces writes one, built an element at a time.
type jsonRows struct{ sortedRows }

func (r *jsonRows) add(d lease.Decision, _ time.Time) error {
	b, err := json.MarshalIndent(decisionObject(d, true), "  ", "  ")
	if err != nil {
		return err
	}
	r.begin(d)
	r.buf = append(r.buf, b...)
	return nil
}

func (r *jsonRows) end(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	sep := "[\n  "
	r.each(func(row []byte) {
		bw.WriteString(sep)
		bw.Write(row)
		sep = ",\n  "
	})
	if len(r.keys) == 0 {
		bw.WriteString("[]\n")
	} else {
		bw.WriteString("\n]\n")
	}
	return bw.Flush()
}

// tableRows is the default table: SLUG ALIAS STATE AGE HOLDERS, without a
// template, its columns aligned at the end as text/tabwriter would align
// them (padding 2), with none of its per-cell work. A list of 65,536
// leases would spend most of its time executing a template, and much of
// the rest collecting garbage: a row's cells are ended by tabs and the
// row by a newline (escape leaves neither in a cell).
type tableRows struct {
	sortedRows
	width [4]int // the widest cell of each padded column, in runes
}

func (r *tableRows) add(d lease.Decision, now time.Time) error {
	r.begin(d)
	start := len(r.buf)
	next := func(i int) {
		r.width[i] = max(r.width[i], utf8.RuneCount(r.buf[start:]))
		r.buf = append(r.buf, '\t')
		start = len(r.buf)
	}
	slug := escape(d.Lease.Slug)
	if slug == "" {
		slug = "-"
	}
	r.buf = append(r.buf, slug...)
	next(0)
	r.buf = d.Alias.AppendTo(r.buf)
	next(1)
	r.buf = append(r.buf, d.State...)
	next(2)
	if d.Lease.Slug == "" {
		r.buf = append(r.buf, '-')
	} else {
		r.buf = appendAge(r.buf, now.Sub(d.Lease.RenewedAt))
	}
	next(3)
	r.buf = append(append(r.buf, holderNames(d.Holders)...), '\n')
	return nil
}

func (r *tableRows) end(w io.Writer) error {
	const header = "SLUG\tALIAS\tSTATE\tAGE\tHOLDERS\n"
	for i, h := range strings.Split(header, "\t")[:4] {
		r.width[i] = max(r.width[i], len(h))
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	line := func(row []byte) {
		for i := range 4 {
			n := bytes.IndexByte(row, '\t')
			bw.Write(row[:n])
			for pad := r.width[i] - utf8.RuneCount(row[:n]) + 2; pad > 0; pad -= len(spaces) {
				bw.WriteString(spaces[:min(pad, len(spaces))])
			}
			row = row[n+1:]
		}
		bw.Write(row)
	}
	line([]byte(header))
	r.each(line)
	return bw.Flush()
}

// spaces pads the table's columns.
const spaces = "                                                                "

// templateRows executes a --format template per row, under a header of
// the field names when the format is a table.
type templateRows struct {
	sortedRows
	tmpl   *template.Template
	table  bool
	header []byte // rendered before the first row, so that its error comes first
	headed bool
}

func (r *templateRows) add(d lease.Decision, now time.Time) error {
	if err := r.head(); err != nil {
		return err
	}
	r.begin(d)
	return r.line(&r.buf, row(d, now))
}

func (r *templateRows) end(w io.Writer) error {
	if err := r.head(); err != nil {
		return err
	}
	var tw *tabwriter.Writer
	if r.table {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		w = tw
	}
	_, err := w.Write(r.header)
	r.each(func(row []byte) {
		if err == nil {
			_, err = w.Write(row)
		}
	})
	if err == nil && tw != nil {
		err = tw.Flush()
	}
	return err
}

// head renders the header of a table, once.
func (r *templateRows) head() error {
	if r.headed || !r.table {
		return nil
	}
	r.headed = true
	header := map[string]string{}
	for _, f := range rowFields {
		header[f] = strings.ToUpper(f)
	}
	return r.line(&r.header, header)
}

// line appends the template's rendering of v and a newline to *b.
func (r *templateRows) line(b *[]byte, v any) error {
	if err := r.tmpl.Execute(appender{b}, v); err != nil {
		return formatError(err)
	}
	*b = append(*b, '\n')
	return nil
}

// appender is an io.Writer that appends to a byte slice.
type appender struct{ b *[]byte }

func (a appender) Write(p []byte) (int, error) {
	*a.b = append(*a.b, p...)
	return len(p), nil
}
