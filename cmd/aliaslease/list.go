package main

import (
	"encoding/json"
	"strings"
	"text/template"
	"time"

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
	now := time.Now()
	rows, err := rowWriter(tmpl, table, c.Bool("json"), now)
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
	walk := func(fn func(lease.Decision) error) error { return m.ListEach(c.Context, fn) }
	if err := renderBeside(c.Context, walk, func(d lease.Decision) error { return rows.add(d, now) }); err != nil {
		return err
	}
	// A reader that stopped reading (a pager left open) blocks a write
	// that no signal interrupts: the rows are written beside, and a
	// signal ends list at once, whatever the write waits for.
	ended := make(chan error, 1)
	go func() { ended <- rows.end(ctxWriter{c.Context, c.App.Writer}) }()
	select {
	case err := <-ended:
		return err
	case <-c.Context.Done():
		return c.Context.Err()
	}
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
