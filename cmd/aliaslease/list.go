package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/aliaslease/aliaslease/lease"
	"github.com/urfave/cli/v2"
)

func list(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	tmpl, table, err := listFormat(c.String("format"))
	if err != nil {
		return err
	}
	m, err := manager(c, false)
	if err != nil {
		return err
	}
	// Rows are rendered into memory while the database is read under the
	// shared lock, and written out after it is released: a slow reader
	// (a pager) must never hold up launches.
	var buf bytes.Buffer
	rows := rowWriter(&buf, tmpl, table, c.Bool("json"))
	now := time.Now()
	if err := m.ListEach(c.Context, func(d lease.Decision) error { return rows.add(d, now) }); err != nil {
		return err
	}
	if err := rows.end(); err != nil {
		return err
	}
	_, err = buf.WriteTo(c.App.Writer)
	return err
}

// rows renders list's rows one decision at a time.
type rows interface {
	add(d lease.Decision, now time.Time) error
	end() error
}

// rowWriter returns the rows for the format: JSON (--json or "json"),
// the default table, or a template.
func rowWriter(w io.Writer, tmpl *template.Template, table, asJSON bool) rows {
	switch {
	case asJSON || tmpl == nil && !table:
		return &jsonRows{w: w}
	case tmpl == nil:
		return &tableRows{w: w}
	}
	return &templateRows{w: w, tmpl: tmpl, table: table}
}

// jsonRows is an array of objects, as json.Encoder with an indent of two
// spaces writes one, built an element at a time.
type jsonRows struct {
	w io.Writer
	n int
}

func (r *jsonRows) add(d lease.Decision, _ time.Time) error {
	b, err := json.MarshalIndent(decisionObject(d, true), "  ", "  ")
	if err != nil {
		return err
	}
	sep := ",\n  "
	if r.n == 0 {
		sep = "[\n  "
	}
	r.n++
	io.WriteString(r.w, sep)
	_, err = r.w.Write(b)
	return err
}

func (r *jsonRows) end() error {
	end := "\n]\n"
	if r.n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(r.w, end)
	return err
}

// tableRows is the default table: SLUG ALIAS STATE AGE HOLDERS, without a
// template (a list of 65,536 leases would spend most of its time in one),
// its columns aligned at the end as text/tabwriter would align them
// (padding 2), with none of its per-cell work.
type tableRows struct {
	w     io.Writer
	cells [][5]string
}

func (r *tableRows) add(d lease.Decision, now time.Time) error {
	row := row(d, now)
	r.cells = append(r.cells, [5]string{row.Slug, row.Alias, row.State, row.Age, row.Holders})
	return nil
}

func (r *tableRows) end() error {
	header := [5]string{"SLUG", "ALIAS", "STATE", "AGE", "HOLDERS"}
	var width [4]int
	for _, c := range append([][5]string{header}, r.cells...) {
		for i := range width {
			width[i] = max(width[i], utf8.RuneCountInString(c[i]))
		}
	}
	bw := bufio.NewWriter(r.w)
	for _, c := range append([][5]string{header}, r.cells...) {
		for i, cell := range c[:4] {
			bw.WriteString(cell)
			bw.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(cell)+2))
		}
		bw.WriteString(c[4])
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// templateRows executes a --format template per row, under a header of
// the field names when the format is a table.
type templateRows struct {
	w       io.Writer
	tmpl    *template.Template
	table   bool
	tw      *tabwriter.Writer
	started bool
}

func (r *templateRows) add(d lease.Decision, now time.Time) error {
	if err := r.start(); err != nil {
		return err
	}
	return r.line(row(d, now))
}

func (r *templateRows) end() error {
	if err := r.start(); err != nil {
		return err
	}
	if r.tw != nil {
		return r.tw.Flush()
	}
	return nil
}

// start writes the header of a table, once.
func (r *templateRows) start() error {
	if r.started || !r.table {
		r.started = true
		return nil
	}
	r.started = true
	r.tw = tabwriter.NewWriter(r.w, 0, 4, 2, ' ', 0)
	r.w = r.tw
	header := map[string]string{}
	for _, f := range rowFields {
		header[f] = strings.ToUpper(f)
	}
	return r.line(header)
}

func (r *templateRows) line(v any) error {
	if err := r.tmpl.Execute(r.w, v); err != nil {
		return formatError(err)
	}
	_, err := io.WriteString(r.w, "\n")
	return err
}

// listFormat parses --format: a template, and whether a "table" format
// wants a header and aligned columns. No template and no table is JSON; no
// template and a table is the default table ("" or "table", as docker ps
// takes it), printed without a template, since a list of 65,536 leases
// would spend most of its time executing one.
func listFormat(format string) (tmpl *template.Template, table bool, err error) {
	switch format {
	case "json":
		return nil, false, nil
	case "", "table":
		return nil, true, nil
	}
	// As with docker's --format, \t and \n typed in a shell stand for a
	// tab and a newline.
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	table = strings.HasPrefix(format, "table ")
	tmpl, err = template.New("format").Option("missingkey=error").Funcs(template.FuncMap{"json": toJSON}).
		Parse(strings.TrimPrefix(format, "table "))
	if err != nil {
		return nil, false, usagef("--format: %v", err)
	}
	return tmpl, table, nil
}

// row is what list prints of a decision.
func row(d lease.Decision, now time.Time) listRow {
	r := listRow{Slug: escape(d.Lease.Slug), Alias: d.Alias.String(), State: string(d.State), Age: "-", Holders: holderNames(d.Holders),
		Generation: d.Lease.Generation, AcquiredAt: d.Lease.AcquiredAt, RenewedAt: d.Lease.RenewedAt, Reason: string(d.Reason)}
	if r.Slug == "" {
		r.Slug = "-"
	} else {
		r.Age = humanAge(now.Sub(d.Lease.RenewedAt))
	}
	return r
}

// listCommand is "aliaslease list" (ls).
func listCommand() *cli.Command {
	return &cli.Command{
		Name:      "list",
		Aliases:   []string{"ls"},
		Usage:     "show every lease and every foreign pool alias with its state",
		UsageText: "aliaslease list [--json | --format TEMPLATE] [--grace DURATION]\n\nEXAMPLE:\n   aliaslease ls --json | jq -r '.[] | select(.state==\"stale\") | .slug'\n   aliaslease ls --format '{{.Slug}}={{.Alias}}'\n   aliaslease ls --format 'table {{.Slug}}\\t{{.State}}'",
		Flags: []cli.Flag{jsonFlag, graceFlag,
			&cli.StringFlag{Name: "format", Usage: "print each row with a Go `TEMPLATE` ({{.Slug}} {{.Alias}} {{.State}} {{.Age}} {{.Holders}} {{.Generation}} {{.AcquiredAt}} {{.RenewedAt}} {{.Reason}}); \"table TEMPLATE\" adds a header, \"json\" is --json"},
		},
		Action: list,
	}
}

// rowFields are the fields a --format template can name.
var rowFields = []string{"Slug", "Alias", "State", "Age", "Holders", "Generation", "AcquiredAt", "RenewedAt", "Reason"}

// formatError turns a template's failure into a usage error that names
// the fields there are, not the Go types behind them.
func formatError(err error) error {
	msg := err.Error()
	if _, field, ok := strings.Cut(msg, "can't evaluate field "); ok {
		field, _, _ = strings.Cut(field, " ")
		return usagef("--format: no field %q; the fields are %s", field, strings.Join(rowFields, ", "))
	}
	if _, after, ok := strings.Cut(msg, "map has no entry for key "); ok {
		return usagef("--format: no field %s; the fields are %s", after, strings.Join(rowFields, ", "))
	}
	return usagef("--format: %v", err)
}

// toJSON is the template function json, as in docker's --format.
func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
