package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/aliaslease/aliaslease/lease"
	"github.com/urfave/cli/v2"
)

// leaseArgs are the flags acquire and run share.
type leaseArgs struct {
	wait   time.Duration // --wait
	grace  time.Duration // --grace
	noIfup bool          // --no-ifup
}

func (a *leaseArgs) flags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "wait", Destination: &a.wait, Usage: "when the pool is exhausted, retry for up to `DURATION`"},
		graceFlag(&a.grace),
		&cli.BoolFlag{Name: "no-ifup", Destination: &a.noIfup, Usage: "record the lease but leave the loopback interface alone"},
	}
}

// acquireArgs are acquire's flags.
type acquireArgs struct {
	json bool // --json
	leaseArgs
}

func acquire(c *cli.Context, args *acquireArgs) error {
	slug, err := oneSlug(c)
	if err != nil {
		return err
	}
	res, _, err := acquireSlug(c, &args.leaseArgs, slug)
	if err != nil {
		return err
	}
	if args.json {
		j := leaseObject(res.Lease)
		j.State, j.Reason = string(acquiredState(res.Outcome)), string(res.Outcome)
		return writeJSON(c.App.Writer, j)
	}
	_, err = fmt.Fprintln(c.App.Writer, res.Lease.Alias)
	return err
}

// acquiredState is the state of a lease acquire returned, in list's
// words, from what acquire knows: a new lease is on an alias nothing
// held (pending until its bundle starts), an adopted one on the alias
// its labelled container publishes on (live); a renewal never waits for
// Docker, so what holds it is not known (unknown, as list says of a lease
// Docker was not asked about).
func acquiredState(o lease.Outcome) lease.State {
	switch o {
	case lease.OutcomeNew:
		return lease.Pending
	case lease.OutcomeAdopted:
		return lease.Live
	}
	return lease.Unknown
}

// acquireSlug checks the leaseArgs and acquires slug (the library
// checks the slug); acquire and run share it.
func acquireSlug(c *cli.Context, args *leaseArgs, slug string) (lease.AcquireResult, *lease.Manager, error) {
	if args.wait < 0 {
		return lease.AcquireResult{}, nil, usagef("--wait must not be negative")
	}
	m, err := judgingManager(c, args.grace, !args.noIfup)
	if err != nil {
		return lease.AcquireResult{}, nil, err
	}
	res, err := m.Acquire(c.Context, slug, args.wait)
	if args.wait > 0 && errors.Is(err, lease.ErrExhausted) {
		err = waitedError{err: err, wait: args.wait}
	}
	if err == nil && !m.Pool.Contains(res.Lease.Alias) {
		say(c.App.ErrWriter, "note", "%s keeps %s, which is outside the pool %s; release it to move it into the pool", slug, res.Lease.Alias, m.Pool)
	}
	return res, m, err
}

// acquireCommand is "aliaslease acquire SLUG".
func acquireCommand() *cli.Command {
	var args acquireArgs
	return &cli.Command{
		Name:      "acquire",
		Usage:     "give SLUG its alias (the same one again if it has a lease)",
		ArgsUsage: "SLUG",
		UsageText: "aliaslease acquire [--json] [--wait DURATION] [--grace DURATION] [--no-ifup] SLUG\n\n" +
			"EXAMPLE:\n   alias=$(aliaslease acquire bottle-7) && docker run -p \"$alias:8080:8080\" --label aliaslease.slug=bottle-7 ...",
		Flags:  append([]cli.Flag{jsonFlag(&args.json)}, args.leaseArgs.flags()...),
		Action: func(c *cli.Context) error { return acquire(c, &args) },
	}
}

// waitedError is an exhausted pool after --wait, so that the hint
// suggests a longer wait rather than the --wait that was given.
type waitedError struct {
	err  error
	wait time.Duration
}

func (e waitedError) Error() string { return fmt.Sprintf("%v, still after --wait %s", e.err, e.wait) }
func (e waitedError) Unwrap() error { return e.err }
