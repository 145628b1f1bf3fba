package main

import (
	"fmt"

	"github.com/aliaslease/aliaslease/lease"
	"github.com/urfave/cli/v2"
)

func gc(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	m, err := manager(c, false)
	if err != nil {
		return err
	}
	if m.Mode == lease.InventoryOff {
		return usagef("gc needs Docker, but --docker is off: without it nothing can be known to be stale")
	}
	ds, err := m.GC(c.Context, c.Bool("dry-run"))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		out := make([]object, len(ds))
		for i, d := range ds {
			out[i] = decisionObject(d, false)
		}
		return writeJSON(c.App.Writer, out)
	}
	for _, d := range ds {
		fmt.Fprintf(c.App.Writer, "%s %s %s\n", d.Lease.Slug, d.Alias, d.Reason)
	}
	return nil
}

// gcCommand is "aliaslease gc", for cron.
func gcCommand() *cli.Command {
	return &cli.Command{
		Name:      "gc",
		Usage:     "reclaim stale leases (for cron); silent when there is nothing to do",
		UsageText: "aliaslease gc [--dry-run] [--json] [--grace DURATION]\n\nEXAMPLE:\n   */10 * * * * aliaslease gc",
		Flags: []cli.Flag{
			jsonFlag, graceFlag,
			&cli.BoolFlag{Name: "dry-run", Usage: "print what would be reclaimed; change nothing"},
		},
		Action: gc,
	}
}
