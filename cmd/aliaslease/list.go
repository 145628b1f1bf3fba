package main

import (
	"encoding/json"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
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
	rows, err := rowWriter(tmpl, table, c.Bool("json"))
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
	return writeBeside(c.Context, rows, c.App.Writer)
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
	if f, ok := unknownField(tmpl.Tree.Root, true); ok {
		return nil, false, usagef("--format: no field %q; the fields are %s", f, strings.Join(rowFields, ", "))
	}
	return tmpl, table, nil
}

// unknownField returns the first field the template names, in its
// order, that a row does not have: a typo is refused before the database
// is read, whichever branch it is in and however many rows there are.
// Inside {{with}} and {{range}} the dot is a value of the row, not the
// row (.AcquiredAt.Unix is fine there as .Unix), so only $.Field is
// checked; anything else fails, if it does, on the rows.
func unknownField(n parse.Node, rowDot bool) (string, bool) {
	var first string
	check := func(ns ...parse.Node) bool {
		for _, n := range ns {
			if f, ok := unknownField(n, rowDot); ok {
				first = f
				return true
			}
		}
		return false
	}
	known := func(f string) bool { return slices.Contains(rowFields, f) }
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			for _, c := range n.Nodes {
				if check(c) {
					return first, true
				}
			}
		}
	case *parse.ActionNode:
		return unknownField(n.Pipe, rowDot)
	case *parse.TemplateNode:
		return unknownField(n.Pipe, rowDot)
	case *parse.PipeNode:
		if n != nil {
			for _, c := range n.Cmds {
				if check(c) {
					return first, true
				}
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			if check(a) {
				return first, true
			}
		}
	case *parse.ChainNode: // (x).F: F is a field of x's value, the row's for (.) and ($)
		if isRow(n.Node, rowDot) && !known(n.Field[0]) {
			return n.Field[0], true
		}
		return unknownField(n.Node, rowDot)
	case *parse.FieldNode:
		if rowDot && !known(n.Ident[0]) {
			return n.Ident[0], true
		}
	case *parse.VariableNode:
		if n.Ident[0] == "$" && len(n.Ident) > 1 && !known(n.Ident[1]) {
			return n.Ident[1], true
		}
	case *parse.IfNode:
		if check(n.Pipe, n.List, n.ElseList) {
			return first, true
		}
	case *parse.WithNode:
		if check(n.Pipe, n.ElseList) {
			return first, true
		}
		return unknownField(n.List, isRow(n.Pipe, rowDot)) // {{with .}} keeps the row
	case *parse.RangeNode:
		if check(n.Pipe, n.ElseList) {
			return first, true
		}
		return unknownField(n.List, false)
	}
	return "", false
}

// isRow says whether x is the row: the dot where it is the row, or $, in
// as many parentheses (or a with's declaration) as may be.
func isRow(x parse.Node, rowDot bool) bool {
	for p, ok := x.(*parse.PipeNode); ok && len(p.Cmds) == 1 && len(p.Cmds[0].Args) == 1; p, ok = x.(*parse.PipeNode) {
		x = p.Cmds[0].Args[0]
	}
	switch x := x.(type) {
	case *parse.DotNode:
		return rowDot
	case *parse.VariableNode:
		return len(x.Ident) == 1 && x.Ident[0] == "$"
	}
	return false
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
