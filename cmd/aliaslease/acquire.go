package main

import (
	"fmt"

	"github.com/aliaslease/aliaslease/lease"
	"github.com/urfave/cli/v2"
)

func acquire(c *cli.Context) error {
	slug, err := oneSlug(c)
	if err != nil {
		return err
	}
	res, _, err := acquireSlug(c, slug)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		j := leaseObject(res.Lease)
		j.Reason = string(res.Outcome)
		return writeJSON(c.App.Writer, j)
	}
	_, err = fmt.Fprintln(c.App.Writer, res.Lease.Alias)
	return err
}

// acquireSlug checks the acquireFlags and acquires slug (the library
// checks the slug); acquire and run share it.
func acquireSlug(c *cli.Context, slug string) (lease.AcquireResult, *lease.Manager, error) {
	if c.Duration("wait") < 0 {
		return lease.AcquireResult{}, nil, usagef("--wait must not be negative")
	}
	m, err := manager(c, !c.Bool("no-ifup"))
	if err != nil {
		return lease.AcquireResult{}, nil, err
	}
	res, err := m.Acquire(c.Context, slug, c.Duration("wait"))
	if err == nil && !m.Pool.Contains(res.Lease.Alias) {
		say(c.App.ErrWriter, "note", "%s keeps %s, which is outside the pool %s; release it to move it into the pool", slug, res.Lease.Alias, m.Pool)
	}
	return res, m, err
}

// acquireCommand is "aliaslease acquire SLUG".
func acquireCommand() *cli.Command {
	return &cli.Command{
		Name:      "acquire",
		Usage:     "give SLUG its alias (the same one again if it has a lease)",
		ArgsUsage: "SLUG",
		UsageText: "aliaslease acquire [--json] [--wait DURATION] [--grace DURATION] [--no-ifup] SLUG\n\n" +
			"EXAMPLE:\n   alias=$(aliaslease acquire bottle-7) && docker run -p \"$alias:8080:8080\" --label aliaslease.slug=bottle-7 ...",
		Flags:  append([]cli.Flag{jsonFlag}, acquireFlags...),
		Action: acquire,
	}
}
