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
	slugs := c.Args().Slice()
	if len(slugs) == 0 {
		return usagef("release: missing SLUG; see aliaslease release --help")
	}
	for _, slug := range slugs {
		if err := lease.ValidateSlug(slug); err != nil {
			return err // bad input: nothing released
		}
	}
	var gen uint64
	if c.IsSet("generation") {
		var err error
		gen, err = strconv.ParseUint(args.generation, 10, 64)
		if err != nil || gen == 0 {
			return usagef("--generation must be a positive whole number, not %q", args.generation)
		}
		if len(slugs) > 1 {
			return usagef("--generation names one lease: give one SLUG with it, not %d", len(slugs))
		}
	}
	if args.killAfter < 0 {
		return usagef("--kill-after must not be negative")
	}
	m, err := manager(c)
	if err != nil {
		return err
	}
	// Each in turn, as docker rm does: a failure is reported and the rest
	// go on; the exit status is the first failure's.
	first := 0
	var objects []object
	for _, slug := range slugs {
		o, err := releaseOne(c, m, args, slug, gen)
		if err != nil && c.Context.Err() != nil {
			return err // interrupted: nothing more is released
		}
		if err != nil {
			if code := report(c.App.ErrWriter, err, 0); first == 0 {
				first = code
			}
			continue
		}
		objects = append(objects, o)
	}
	if args.json && len(objects) > 0 { // a failed release prints nothing on stdout
		var v any = objects
		if len(slugs) == 1 {
			v = objects[0] // one slug, one object, as before
		}
		if err := writeJSON(c.App.Writer, v); err != nil {
			return err
		}
	}
	if first != 0 {
		return exitStatus(first)
	}
	return nil
}

// releaseOne releases slug's lease, printing its alias (or, for a slug
// without that lease, a note) unless the output is JSON, and returns its
// JSON object.
func releaseOne(c *cli.Context, m *lease.Manager, args *releaseArgs, slug string, gen uint64) (object, error) {
	var l lease.Lease
	var err error
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
		return object{}, err
	}
	if !args.json && why == "" {
		if _, err := fmt.Fprintln(c.App.Writer, l.Alias); err != nil {
			return object{}, err
		}
	}
	return releaseObject(slug, l, why), nil
}

// releaseCommand is "aliaslease release SLUG".
func releaseCommand() *cli.Command {
	var args releaseArgs
	return &cli.Command{
		Name:      "release",
		Usage:     "end each SLUG's lease and print the freed alias",
		ArgsUsage: "SLUG...",
		UsageText: "aliaslease release [--json] [--generation N] [--force [--kill-after DURATION]] SLUG...\n\n" +
			"Several SLUGs are released each in turn; the exit status is the first failure's, and\n" +
			"--json prints an array of their objects (one SLUG: one object); a SLUG whose release\n" +
			"fails has none: its error is on stderr.\n\n" +
			"A lease that a running command's process tree holds (aliaslease run), or a cgroup confined\n" +
			"to it (aliaslease confine), is not released: exit 2, naming the trees. --force ends them first\n" +
			"(SIGTERM, then SIGKILL after --kill-after), then removes their firewall rules.\n\n" +
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
