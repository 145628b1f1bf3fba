package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
)

// templateRows executes a --format template per row, under a header of
// the field names when the format is a table.
type templateRows struct {
	sortedRows
	ctx    context.Context // a signal ends a template's execution
	tmpl   *template.Template
	table  bool
	header []byte
	err    error  // the failure of the row of the lowest alias, as if they came in order
	errKey uint64 // that row's key
}

// newTemplateRows renders the header of a table before the database is
// read: it depends on no row. It returns when ctx ends, whatever the
// template is doing (see untilDone).
func newTemplateRows(ctx context.Context, tmpl *template.Template, table bool) (*templateRows, error) {
	t := &templateRows{ctx: ctx, tmpl: tmpl, table: table}
	if table {
		header := map[string]string{}
		for _, f := range rowFields {
			header[f] = strings.ToUpper(f)
		}
		var b []byte
		if err := untilDone(ctx, func() error { return t.line(&b, header) }); err != nil {
			return nil, err
		}
		t.header = b
	}
	return t, nil
}

// untilDone runs fn in a goroutine of its own and returns its error, or
// ctx's as soon as ctx ends: a template can loop for minutes without
// writing anything ({{range 2000000000}}{{end}}), and a signal must end
// list at once. The goroutine is left to the process's exit, which
// follows the signal; it writes nothing the caller reads after that.
func untilDone(ctx context.Context, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *templateRows) add(r rowCells) error {
	t.begin(r.alias)
	n := len(t.buf)
	if err := t.line(&t.buf, r.fields()); err != nil {
		t.buf = t.buf[:n]
		if key := t.keys[len(t.keys)-1]; t.err == nil || key < t.errKey {
			t.err, t.errKey = err, key
		}
	}
	return nil
}

func (t *templateRows) end(w io.Writer) error {
	if t.err != nil {
		return t.err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	w = bw
	var tw *tabwriter.Writer
	if t.table {
		tw = tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
		w = tw
	}
	_, err := w.Write(t.header)
	t.each(func(row []byte) {
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

// line appends the template's rendering of v and a newline to *b. A
// template that writes stops at its next write once ctx has ended.
func (t *templateRows) line(b *[]byte, v any) error {
	if err := t.tmpl.Execute(appender{t.ctx, b}, v); err != nil {
		if t.ctx != nil && t.ctx.Err() != nil {
			return t.ctx.Err()
		}
		return formatError(err, v)
	}
	*b = append(*b, '\n')
	return nil
}

// appender is an io.Writer that appends to a byte slice until ctx (when
// not nil) ends.
type appender struct {
	ctx context.Context
	b   *[]byte
}

func (a appender) Write(p []byte) (int, error) {
	if a.ctx != nil {
		if err := a.ctx.Err(); err != nil {
			return 0, err
		}
	}
	*a.b = append(*a.b, p...)
	return len(p), nil
}

// toJSON is the template function json, as in docker's --format.
func toJSON(v any) (string, error) {
	b, err := marshalJSON(v, "", "")
	return string(b), err
}
