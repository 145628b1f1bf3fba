package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
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
// the default table, or a template (its header rendered first).
func rowWriter(tmpl *template.Template, table, asJSON bool) (rows, error) {
	switch {
	case asJSON || tmpl == nil && !table:
		return &jsonRows{}, nil
	case tmpl == nil:
		return &tableRows{}, nil
	}
	return newTemplateRows(tmpl, table)
}

// renderBeside calls add with every decision that walk yields, in a
// goroutine of its own, in batches: on two cores, reading the database
// and rendering the rows overlap (at 65,536 leases each is about half of
// list's time). A failure of the walk (a damaged database) is returned
// before one of add, which ends the walk; so does the end of ctx.
func renderBeside(ctx context.Context, walk func(func(lease.Decision) error) error, add func(lease.Decision) error) error {
	const batch, batches = 512, 4
	full, free := make(chan []lease.Decision, batches), make(chan []lease.Decision, batches)
	for range batches {
		free <- make([]lease.Decision, 0, batch)
	}
	var addErr error
	var failed atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range full {
			if addErr == nil {
				addErr = addAll(b, add)
			}
			failed.Store(addErr != nil)
			free <- b[:0]
		}
	}()
	cur := <-free
	err := walk(func(d lease.Decision) error {
		if failed.Load() {
			return errRenderFailed
		}
		if cur = append(cur, d); len(cur) == batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			full <- cur
			cur = <-free
		}
		return nil
	})
	if err == nil {
		full <- cur
	}
	close(full)
	<-done
	switch {
	case err != nil && !errors.Is(err, errRenderFailed):
		return err
	case addErr != nil:
		return addErr
	}
	return ctx.Err()
}

// addAll calls add with each of ds until one fails. A panic is an error
// too: this goroutine is outside the guard that turns the walk's panics
// into errors, and it must go on handing batches back.
func addAll(ds []lease.Decision, add func(lease.Decision) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("rendering a row: %v", p)
		}
	}()
	for _, d := range ds {
		if err := add(d); err != nil {
			return err
		}
	}
	return nil
}

// errRenderFailed ends a walk whose rows could not be rendered.
var errRenderFailed = errors.New("rendering failed")

// writeBeside writes the rows out in a goroutine of its own and returns
// when they are written or ctx ends: a reader that stopped reading (a
// pager left open) blocks a write that no signal interrupts, and a signal
// must end list at once, whatever the write waits for.
func writeBeside(ctx context.Context, r rows, w io.Writer) error {
	ended := make(chan error, 1)
	go func() { ended <- r.end(ctxWriter{ctx, w}) }()
	select {
	case err := <-ended:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ctxWriter writes until ctx ends (a signal: list's output can be long),
// and drops empty writes, which a device such as /dev/full would fail.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	return c.w.Write(p)
}

// sortedRows keeps rendered rows in memory and gives them back in alias
// order. The library yields decisions in the order the database stores
// them; at 65,536 leases, sorting one 8-byte key per rendered row costs a
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

// begin starts the row of d.
func (s *sortedRows) begin(d lease.Decision) {
	if cap(s.buf)-len(s.buf) < rowRoom {
		if s.buf != nil {
			s.chunks = append(s.chunks, s.buf)
		}
		s.buf = make([]byte, 0, rowChunk)
	}
	a := d.Alias.As4()
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

// sortKeys sorts keys (alias<<32 | row number) by alias, and the rows of
// one alias in the order added: a stable counting sort on each 16-bit
// half of the alias (the row numbers come in increasing order), where a
// comparison sort of 65,536 keys took a tenth of list's time.
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

// jsonRows is an array of objects, as json.Encoder with an indent of two
// spaces writes one, built an element at a time. A lease without holders
// (nearly every row of a large list) is kept in a compact form (a few
// dozen bytes, not the two hundred of its JSON) and written at the end by
// appendPlain, byte for byte as encoding/json writes it; any other row is
// kept as encoding/json renders it.
type jsonRows struct{ sortedRows }

// The first byte of a JSON row: how the rest is kept.
const (
	jsonPlain    = 0 // slug, generation, times, state, reason (see add)
	jsonRendered = 1 // the element, rendered
)

func (r *jsonRows) add(d lease.Decision, _ time.Time) error {
	if plain(d) {
		r.begin(d)
		r.buf = append(r.buf, jsonPlain)
		r.buf = appendField(r.buf, d.Lease.Slug)
		r.buf = binary.AppendUvarint(r.buf, d.Lease.Generation)
		r.buf = binary.AppendVarint(r.buf, d.Lease.AcquiredAt.UnixNano())
		r.buf = binary.AppendVarint(r.buf, d.Lease.RenewedAt.UnixNano())
		r.buf = appendField(r.buf, string(d.State))
		r.buf = appendField(r.buf, string(d.Reason))
		return nil
	}
	b, err := json.MarshalIndent(decisionObject(d, true), "  ", "  ")
	if err != nil {
		return err
	}
	r.begin(d)
	r.buf = append(append(r.buf, jsonRendered), b...)
	return nil
}

// plain says whether d is a row appendPlain writes as encoding/json
// would: a lease on its own alias, without holders, its times exact in
// Unix nanoseconds.
func plain(d lease.Decision) bool {
	exact := func(t time.Time) bool { return time.Unix(0, t.UnixNano()).Equal(t) }
	return d.Lease.Slug != "" && len(d.Holders) == 0 && d.Alias == d.Lease.Alias && d.Alias.Is4() &&
		exact(d.Lease.AcquiredAt) && exact(d.Lease.RenewedAt)
}

// appendField appends a string with its length (uvarint).
func appendField(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// field reads what appendField wrote.
func field(b []byte) (string, []byte) {
	n, k := binary.Uvarint(b)
	return string(b[k : k+int(n)]), b[k+int(n):]
}

// appendPlain appends the element of a plain row (see add) on alias, as
// json.MarshalIndent(decisionObject(d, true), "  ", "  ") writes it.
func appendPlain(b, row []byte, alias uint32) []byte {
	slug, row := field(row)
	gen, k := binary.Uvarint(row)
	acq, m := binary.Varint(row[k:])
	ren, n := binary.Varint(row[k+m:])
	state, row := field(row[k+m+n:])
	reason, _ := field(row)
	b = appendJSONString(append(b, "{\n    \"slug\": "...), slug)
	b = append(b, ",\n    \"alias\": \""...)
	b = append(u32Addr(alias).AppendTo(b), '"')
	if state != "" {
		b = appendJSONString(append(b, ",\n    \"state\": "...), state)
	}
	if gen != 0 {
		b = strconv.AppendUint(append(b, ",\n    \"generation\": "...), gen, 10)
	}
	b = time.Unix(0, acq).UTC().AppendFormat(append(b, ",\n    \"acquired_at\": \""...), time.RFC3339Nano)
	b = time.Unix(0, ren).UTC().AppendFormat(append(b, "\",\n    \"renewed_at\": \""...), time.RFC3339Nano)
	b = append(b, "\",\n    \"holders\": []"...)
	if reason != "" {
		b = appendJSONString(append(b, ",\n    \"reason\": "...), reason)
	}
	return append(b, "\n  }"...)
}

// appendJSONString appends s as encoding/json writes a string: as it is
// when it is printable ASCII without a quote, a backslash or a character
// it escapes for HTML, else through encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}

// u32Addr is the IPv4 address of a key's alias.
func u32Addr(a uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
}

func (r *jsonRows) end(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	sep := "[\n  "
	r.eachKey(func(key uint64, row []byte) {
		b := append(bw.AvailableBuffer(), sep...)
		if row[0] == jsonPlain {
			b = appendPlain(b, row[1:], uint32(key>>32))
		} else {
			b = append(b, row[1:]...)
		}
		bw.Write(b)
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
// the rest collecting garbage. A row is kept as a small header (the
// slug's length in bytes and in runes, as uvarints; the alias's, the
// state's and the age's lengths, a byte each: they are ASCII) and the
// cells, holders last, with its newline.
type tableRows struct {
	sortedRows
	width [4]int // the widest cell of each padded column, in runes
}

func (r *tableRows) add(d lease.Decision, now time.Time) error {
	r.begin(d)
	slug := escape(d.Lease.Slug)
	if slug == "" {
		slug = "-"
	}
	runes := utf8.RuneCountInString(slug)
	r.buf = binary.AppendUvarint(r.buf, uint64(len(slug)))
	r.buf = binary.AppendUvarint(r.buf, uint64(runes))
	lens := len(r.buf)
	r.buf = append(r.buf, 0, 0, 0)
	r.buf = append(r.buf, slug...)
	cell := func(i, start int) {
		n := len(r.buf) - start
		r.buf[lens+i-1] = byte(n)
		r.width[i] = max(r.width[i], n)
	}
	r.width[0] = max(r.width[0], runes)
	start := len(r.buf)
	r.buf = d.Alias.AppendTo(r.buf)
	cell(1, start)
	start = len(r.buf)
	r.buf = append(r.buf, d.State...)
	cell(2, start)
	start = len(r.buf)
	if d.Lease.Slug == "" {
		r.buf = append(r.buf, '-')
	} else {
		r.buf = appendAge(r.buf, now.Sub(d.Lease.RenewedAt))
	}
	cell(3, start)
	r.buf = append(append(r.buf, holderNames(d.Holders)...), '\n')
	return nil
}

func (r *tableRows) end(w io.Writer) error {
	header := [5]string{"SLUG", "ALIAS", "STATE", "AGE", "HOLDERS\n"}
	for i, h := range header[:4] {
		r.width[i] = max(r.width[i], len(h))
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	line := bw.AvailableBuffer()
	for i, h := range header {
		line = append(line, h...)
		if i < 4 {
			line = pad(line, r.width[i]-len(h)+2)
		}
	}
	bw.Write(line)
	// Each line is appended to the writer's free space and written at
	// once: one copy, no call per cell.
	r.each(func(row []byte) { bw.Write(r.appendLine(bw.AvailableBuffer(), row)) })
	return bw.Flush()
}

// appendLine appends a row as a line of the table.
func (r *tableRows) appendLine(line, row []byte) []byte {
	size, k := binary.Uvarint(row)
	runes, m := binary.Uvarint(row[k:])
	lens, row := row[k+m:k+m+3], row[k+m+3:]
	line = pad(append(line, row[:size]...), r.width[0]-int(runes)+2)
	row = row[size:]
	for i, n := range lens {
		line = pad(append(line, row[:n]...), r.width[i+1]-int(n)+2)
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

// templateRows executes a --format template per row, under a header of
// the field names when the format is a table.
type templateRows struct {
	sortedRows
	tmpl   *template.Template
	table  bool
	header []byte
	err    error  // the failure of the row of the lowest alias, as if they came in order
	errKey uint64 // that row's key
}

// newTemplateRows renders the header of a table before the database is
// read: it depends on no row.
func newTemplateRows(tmpl *template.Template, table bool) (*templateRows, error) {
	r := &templateRows{tmpl: tmpl, table: table}
	if table {
		header := map[string]string{}
		for _, f := range rowFields {
			header[f] = strings.ToUpper(f)
		}
		if err := r.line(&r.header, header); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *templateRows) add(d lease.Decision, now time.Time) error {
	r.begin(d)
	n := len(r.buf)
	if err := r.line(&r.buf, row(d, now)); err != nil {
		r.buf = r.buf[:n]
		if key := r.keys[len(r.keys)-1]; r.err == nil || key < r.errKey {
			r.err, r.errKey = err, key
		}
	}
	return nil
}

func (r *templateRows) end(w io.Writer) error {
	if r.err != nil {
		return r.err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	w = bw
	var tw *tabwriter.Writer
	if r.table {
		tw = tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
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
	if err != nil {
		return err
	}
	return bw.Flush()
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
