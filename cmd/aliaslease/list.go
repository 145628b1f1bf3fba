package main

import (
	"context"
	"io"
	"text/template"
	"time"

	"github.com/aliaslease/aliaslease/lease"
	"github.com/urfave/cli/v2"
)

// listArgs are list's flags.
type listArgs struct {
	json    bool          // --json
	format  string        // --format
	grace   time.Duration // --grace
	quiet   bool          // -q, --quiet
	filters cli.StringSlice
}

// listCommand is "aliaslease list" (ls).
func listCommand() *cli.Command {
	var args listArgs
	return &cli.Command{
		Name:      "list",
		Aliases:   []string{"ls"},
		Usage:     "show every lease and every foreign pool alias with its state",
		UsageText: "aliaslease list [--json | --format TEMPLATE | -q] [--filter KEY=VALUE]... [--grace DURATION]\n\nEXAMPLE:\n   aliaslease ls -q --filter state=stale\n   aliaslease ls --json | jq -r '.[] | select(.state==\"stale\") | .slug'\n   aliaslease ls --format '{{.Slug}}={{.Alias}}'\n   aliaslease ls --format 'table {{.Slug}}\\t{{.State}}'",
		Flags: []cli.Flag{jsonFlag(&args.json), graceFlag(&args.grace),
			&cli.StringFlag{Name: "format", Destination: &args.format,
				Usage: "print each row with a Go `TEMPLATE` (" + fieldsHelp() + "); \"table TEMPLATE\" adds a header, \"json\" is --json"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Destination: &args.quiet, Usage: "print the slugs alone, one a line"},
			&cli.StringSliceFlag{Name: "filter", Destination: &args.filters,
				Usage: "show only rows that match `KEY=VALUE`: state=STATE, slug=SLUG (or a shell pattern), alias=ADDR (or a CIDR); a key repeated matches any of its values, different keys all"},
		},
		Action: func(c *cli.Context) error { return list(c, &args) },
	}
}

func list(c *cli.Context, args *listArgs) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if args.json && args.format != "" {
		return usagef("list: --json and --format cannot be used together (--format json is --json)")
	}
	if args.quiet && (args.json || args.format != "") {
		return usagef("list: -q prints slugs alone; it cannot be used with --json or --format")
	}
	filter, err := parseFilters(args.filters.Value())
	if err != nil {
		return err
	}
	tmpl, table, err := listFormat(args.format)
	if err != nil {
		return err
	}
	now := time.Now()
	rows, err := rowWriter(c.Context, tmpl, table, args.json)
	if err != nil {
		return err
	}
	if args.quiet {
		rows = &quietRows{}
	}
	m, err := judgingManager(c, args.grace, false)
	if err != nil {
		return err
	}
	m.NameOwners = true // shown: name each listener's process
	// Rows are rendered into memory while the database is read under the
	// shared lock, and written out after it is released: a slow reader
	// (a pager) must never hold up launches.
	walk := func(fn func(lease.Decision) error) error { return m.ListEach(c.Context, fn) }
	if err := renderBeside(c.Context, walk, func(d lease.Decision) error {
		if r := row(d, now); filter.match(&r) {
			return rows.add(r)
		}
		return nil
	}); err != nil {
		return err
	}
	return writeBeside(c.Context, rows, c.App.Writer)
}

// rows keeps list's rows in memory, laid out one at a time as they
// come, and writes them out, in alias order, at the end.
type rows interface {
	add(r rowCells) error
	end(w io.Writer) error
}

// rowWriter returns the rows for the format: JSON (--json or "json"),
// the default table, or a template (its header rendered first).
func rowWriter(ctx context.Context, tmpl *template.Template, table, asJSON bool) (rows, error) {
	switch {
	case asJSON || tmpl == nil && !table:
		return &jsonRows{}, nil
	case tmpl == nil:
		return &tableRows{}, nil
	}
	return newTemplateRows(ctx, tmpl, table)
}
