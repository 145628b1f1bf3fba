package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/aliaslease/aliaslease/lease"
	"github.com/urfave/cli/v2"
)

// logArgs are log's flags.
type logArgs struct {
	json bool   // --json
	n    int    // -n
	slug string // --slug
}

func logCmd(c *cli.Context, args *logArgs) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if args.slug != "" {
		if err := lease.ValidateSlug(args.slug); err != nil {
			return err
		}
	}
	if args.n < 0 {
		return usagef("-n must not be negative")
	}
	m, err := manager(c)
	if err != nil {
		return err
	}
	evs, err := m.Events(c.Context, args.n, args.slug)
	if err != nil {
		return err
	}
	if args.json {
		return writeJSON(c.App.Writer, evs)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tSLUG\tALIAS\tGENERATION\tREASON\tPROCESS")
	for _, e := range evs {
		reason := e.Reason
		if reason == "" {
			reason = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s[%d]\n", e.Time.Local().Format("2006-01-02 15:04:05"),
			escape(string(e.Kind)), escape(e.Slug), e.Alias, e.Generation, escape(string(reason)), escape(e.Command), e.PID)
	}
	return tw.Flush()
}

// logCommand is "aliaslease log", the audit log.
func logCommand() *cli.Command {
	var args logArgs
	return &cli.Command{
		Name:      "log",
		Usage:     "show the audit log: acquires, renewals, adoptions, releases, reclaims",
		UsageText: "aliaslease log [-n N] [--slug SLUG] [--json]\n\nEXAMPLE:\n   aliaslease log -n 5 --slug bottle-7",
		Flags: []cli.Flag{
			jsonFlag(&args.json),
			&cli.IntFlag{Name: "n", Value: 20, Destination: &args.n, Usage: "show the newest `N` events (0: all kept, up to 1,000)"},
			&cli.StringFlag{Name: "slug", Destination: &args.slug, Usage: "only the events of `SLUG`"},
		},
		Action: func(c *cli.Context) error { return logCmd(c, &args) },
	}
}
