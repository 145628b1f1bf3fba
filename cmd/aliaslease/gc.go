package main

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/aliaslease/aliaslease/internal/confine"
	"github.com/urfave/cli/v2"
)

// gcArgs are gc's flags.
type gcArgs struct {
	json    bool          // --json
	dryRun  bool          // --dry-run
	grace   time.Duration // --grace
	verbose bool          // --verbose
}

func gc(c *cli.Context, args *gcArgs) error {
	if err := noArgs(c); err != nil {
		return err
	}
	m, err := judgingManager(c, args.grace, false)
	if err != nil {
		return err
	}
	m.Verbose = args.verbose
	if t, ok := m.Trees.(*confine.Trees); ok {
		t.Repair = !args.dryRun // under the lock: restore the rules of live confined trees
	}
	ds, err := m.GC(c.Context, args.dryRun)
	if err != nil {
		return err
	}
	if !args.dryRun {
		pruneGroups(c)
		removeGoneRules(c)
	}
	if args.json {
		now := time.Now()
		out := make([]object, len(ds))
		for i, d := range ds {
			r := row(d, now)
			out[i] = r.object(false)
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
	var args gcArgs
	return &cli.Command{
		Name:      "gc",
		Usage:     "reclaim stale leases (for cron); silent when there is nothing to do",
		UsageText: "aliaslease gc [--dry-run] [--json] [--grace DURATION] [--verbose]\n\nEXAMPLE:\n   */10 * * * * /usr/local/bin/aliaslease gc   # cron: name the binary by its path",
		Flags: []cli.Flag{
			jsonFlag(&args.json), graceFlag(&args.grace),
			&cli.BoolFlag{Name: "dry-run", Destination: &args.dryRun, Usage: "print what would be reclaimed; change nothing"},
			&cli.BoolFlag{Name: "verbose", Destination: &args.verbose, Usage: "note on stderr when Docker was not consulted, even when nothing was reclaimed"},
		},
		Action: func(c *cli.Context) error { return gc(c, &args) },
	}
}

// orphanAge is how old an empty cgroup no lease records must be before gc
// removes it: a run makes its group just before starting its command in
// it, and records it just after.
const orphanAge = time.Minute

// pruneGroups removes the empty cgroups of runs (those a lease records
// are removed as soon as a reconcile finds them empty; these are the
// groups of wrappers killed before they recorded theirs). Where there
// are no cgroups there is nothing to do.
func pruneGroups(c *cli.Context) {
	root, err := confine.Find()
	if err != nil {
		return
	}
	if _, err := root.Prune(orphanAge); err != nil {
		say(c.App.ErrWriter, "warning", "removing empty cgroups of runs: %v", err)
	}
}

// removeGoneRules removes the firewall rules of cgroups that are gone (a
// wrapper killed between installing its rules and recording them; rules
// whose record went first). Without root or nftables there are none of
// aliaslease's to see.
func removeGoneRules(c *cli.Context) {
	_, err := confine.RemoveGone(confine.HostFirewall())
	if err != nil && !errors.Is(err, fs.ErrPermission) && !errors.Is(err, errors.ErrUnsupported) && !errors.Is(err, confine.ErrNoCgroup) {
		say(c.App.ErrWriter, "warning", "removing the firewall rules of cgroups that are gone: %v", err)
	}
}
