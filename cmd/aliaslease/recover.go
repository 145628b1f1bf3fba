package main

import (
	"fmt"

	"github.com/aliaslease/aliaslease/lease"
	"github.com/urfave/cli/v2"
)

// recoverArgs are recover's flags.
type recoverArgs struct {
	json       bool // --json
	fromDocker bool // --from-docker
	force      bool // --force
}

func recoverCmd(c *cli.Context, args *recoverArgs) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if !args.fromDocker {
		return usagef("recover: --from-docker is required (labelled containers are the only source to rebuild from)")
	}
	m, err := manager(c)
	if err != nil {
		return err
	}
	if m.Mode == lease.InventoryOff {
		return usagef("recover --from-docker needs Docker, but --docker is off")
	}
	res, err := m.Recover(c.Context, args.force)
	if res.MovedTo != "" {
		say(c.App.ErrWriter, "note", "moved the existing database to %s", res.MovedTo)
	}
	if err != nil {
		return err
	}
	for _, s := range res.Skipped {
		say(c.App.ErrWriter, "note", "%s", s)
	}
	for _, s := range res.Dropped {
		say(c.App.ErrWriter, "note", "%s", s)
	}
	if len(res.Leases) == res.Kept && len(res.Skipped) > 0 {
		say(c.App.ErrWriter, "warning", "labelled containers were found but none gave a lease; is --pool (%s) the pool they were started with?", m.Pool)
	}
	if args.json {
		out := make([]object, len(res.Leases))
		for i, l := range res.Leases {
			out[i] = leaseObject(l)
			out[i].Reason = "recovered"
		}
		return writeJSON(c.App.Writer, out)
	}
	for _, l := range res.Leases {
		fmt.Fprintf(c.App.Writer, "%s %s\n", l.Slug, l.Alias)
	}
	return nil
}

// recoverCommand is "aliaslease recover --from-docker".
func recoverCommand() *cli.Command {
	var args recoverArgs
	return &cli.Command{
		Name:  "recover",
		Usage: "rebuild a lost or damaged database from labelled containers",
		UsageText: "aliaslease recover --from-docker [--force] [--json]\n\n" +
			"EXAMPLE:\n   aliaslease recover --from-docker --force   # moves a damaged database aside, never deletes it",
		Flags: []cli.Flag{
			jsonFlag(&args.json),
			&cli.BoolFlag{Name: "from-docker", Destination: &args.fromDocker, Usage: "rebuild from the aliaslease.slug labels of containers (the only source)"},
			&cli.BoolFlag{Name: "force", Destination: &args.force, Usage: "move an existing database aside first"},
		},
		Action: func(c *cli.Context) error { return recoverCmd(c, &args) },
	}
}
