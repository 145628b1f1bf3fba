package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aliaslease/aliaslease/lease"
	"github.com/urfave/cli/v2"
)

// releaseArgs are release's flags.
type releaseArgs struct {
	json       bool          // --json
	generation string        // --generation, checked by the action: set to "" is refused
	force      bool          // --force
	killAfter  time.Duration // --kill-after
}

func release(c *cli.Context, args *releaseArgs) error {
	slug, err := oneSlug(c)
	if err != nil {
		return err
	}
	var gen uint64
	if c.IsSet("generation") {
		gen, err = strconv.ParseUint(args.generation, 10, 64)
		if err != nil || gen == 0 {
			return usagef("--generation must be a positive whole number, not %q", args.generation)
		}
	}
	if args.killAfter < 0 {
		return usagef("--kill-after must not be negative")
	}
	m, err := manager(c)
	if err != nil {
		return err
	}
	var l lease.Lease
	if args.force {
		l, err = m.ReleaseForce(c.Context, slug, gen, args.killAfter)
	} else {
		l, err = m.Release(c.Context, slug, gen)
	}
	var why string
	switch {
	case errors.Is(err, lease.ErrNotFound):
		say(c.App.ErrWriter, "note", "%s has no lease; nothing released", slug)
		why = "no-lease"
	case errors.Is(err, lease.ErrGenerationMismatch):
		say(c.App.ErrWriter, "note", "%v; nothing released", err)
		why = "generation-mismatch"
	case err != nil:
		return err
	}
	if args.json {
		return writeJSON(c.App.Writer, releaseObject(slug, l, why))
	}
	if why != "" {
		return nil // like rm -f: nothing to say on stdout
	}
	_, err = fmt.Fprintln(c.App.Writer, l.Alias)
	return err
}

// releaseCommand is "aliaslease release SLUG".
func releaseCommand() *cli.Command {
	var args releaseArgs
	return &cli.Command{
		Name:      "release",
		Usage:     "end SLUG's lease and print the freed alias",
		ArgsUsage: "SLUG",
		UsageText: "aliaslease release [--json] [--generation N] [--force [--kill-after DURATION]] SLUG\n\n" +
			"A lease that a running command's process tree holds (aliaslease run) is not released:\n" +
			"exit 2, naming the trees. --force ends them first (SIGTERM, then SIGKILL after --kill-after).\n\n" +
			"EXAMPLE:\n   aliaslease release --generation 42 bottle-7   # only if still the lease acquire returned",
		Flags: []cli.Flag{
			jsonFlag(&args.json),
			&cli.StringFlag{Name: "generation", Destination: &args.generation, Usage: "release only if the lease is still generation `N`"},
			&cli.BoolFlag{Name: "force", Destination: &args.force, Usage: "end the process trees that hold the lease first"},
			&cli.DurationFlag{Name: "kill-after", Value: 10 * time.Second, Destination: &args.killAfter,
				Usage: "with --force, SIGKILL what is left of a tree `DURATION` after its SIGTERM"},
		},
		Action: func(c *cli.Context) error { return release(c, &args) },
	}
}
