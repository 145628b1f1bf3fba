package main

import (
	"fmt"
	"time"

	"github.com/aliaslease/aliaslease/internal/confine"
	"github.com/urfave/cli/v2"
)

// cleanupArgs are cleanup's flags.
type cleanupArgs struct {
	dryRun bool // --dry-run
}

// cleanupMinAge keeps the cgroup of a run that is starting: empty from
// its making until its command starts.
const cleanupMinAge = time.Minute

func cleanup(c *cli.Context, args *cleanupArgs) error {
	if err := noArgs(c); err != nil {
		return err
	}
	m, err := manager(c)
	if err != nil {
		return err
	}
	verb := "removed"
	if args.dryRun {
		verb = "would remove"
	}
	paths, err := m.Leftovers(c.Context, args.dryRun)
	if err != nil {
		return err
	}
	for _, p := range paths {
		fmt.Fprintf(c.App.Writer, "%s leftover %s\n", verb, escape(p))
	}
	claims, err := m.SharedLeftovers(c.Context, args.dryRun)
	for _, p := range claims {
		fmt.Fprintf(c.App.Writer, "%s shared-place entry %s\n", verb, escape(p))
	}
	if err != nil {
		return err
	}
	done, errs := confine.Cleanup(args.dryRun, cleanupMinAge)
	for _, g := range done.Groups {
		fmt.Fprintf(c.App.Writer, "%s cgroup %s\n", verb, escape(g))
	}
	if done.Subtree != "" {
		fmt.Fprintf(c.App.Writer, "%s the cgroup subtree %s\n", verb, escape(done.Subtree))
	}
	for _, id := range done.Rules {
		fmt.Fprintf(c.App.Writer, "%s the firewall rules of cgroup %d\n", verb, id)
	}
	for _, err := range errs {
		say(c.App.ErrWriter, "note", "not cleaned: %v", err) // a part this host or user does not have
	}
	return nil
}

// cleanupCommand is "aliaslease cleanup".
func cleanupCommand() *cli.Command {
	var args cleanupArgs
	return &cli.Command{
		Name:  "cleanup",
		Usage: "remove what aliaslease made outside its database that nothing uses: empty run cgroups, rules of cgroups gone (or its own, empty), the database's leftovers",
		UsageText: "aliaslease cleanup [--dry-run]\n\n" +
			"Removes the leftovers of interrupted database creations (under the lock, never the lock\n" +
			"file), the empty cgroups of runs (at least a minute old: a starting run's is empty until\n" +
			"its command starts), and the firewall rules of cgroups that are gone or, of aliaslease's own,\n" +
			"empty; never a populated cgroup's rules, nor those of a cgroup someone else made that still\n" +
			"exists (confine --cgroup); and the shared place's claims of databases that are gone\n" +
			"(this user's, or every user's as root; as root also entries that are not regular files).\n" +
			"For uninstalling, and after a lost database.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "dry-run", Destination: &args.dryRun, Usage: "print what would be removed; remove nothing"},
		},
		Action: func(c *cli.Context) error { return cleanup(c, &args) },
	}
}
