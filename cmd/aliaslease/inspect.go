package main

import (
	"time"

	"github.com/aliaslease/aliaslease/lease"
	"github.com/urfave/cli/v2"
)

// inspectArgs are inspect's flags.
type inspectArgs struct {
	json   bool          // --json: accepted as every printing command takes it; inspect prints JSON
	events int           // --events
	grace  time.Duration // --grace
}

// inspected is what inspect prints of one lease: every field list has,
// the vacancy with its observations, the holding process, and the recent
// audit events.
type inspected struct {
	object
	// HeldAt and VacantSince are null when never, not left out: inspect
	// shows every field.
	HeldAt      *time.Time    `json:"held_at"`
	VacantSince *time.Time    `json:"vacant_since"`
	Vacancy     *vacancy      `json:"vacancy"` // null when no observation found it vacant
	PID         int           `json:"pid,omitempty"`
	InPool      bool          `json:"in_pool"`
	Events      []lease.Event `json:"events"`
}

// vacancy is what observations found of a lease without a holder.
type vacancy struct {
	Since            time.Time `json:"since"`
	Observations     int       `json:"observations"`
	StaleFrom        time.Time `json:"stale_from"`        // the earliest it can be stale
	MoreObservations int       `json:"more_observations"` // gc runs that must still find it vacant
}

func inspect(c *cli.Context, args *inspectArgs) error {
	if c.NArg() == 0 {
		return usagef("inspect: missing SLUG; see aliaslease inspect --help")
	}
	if args.events < 0 {
		return usagef("--events must not be negative")
	}
	m, err := judgingManager(c, args.grace, false)
	if err != nil {
		return err
	}
	m.NameOwners = true // shown: name each listener's process
	ins, err := m.Inspect(c.Context, c.Args().Slice(), max(args.events, 1))
	if err != nil {
		return err
	}
	out := []inspected{}
	var missing []string
	now := time.Now()
	for _, in := range ins {
		if !in.Found {
			missing = append(missing, in.Slug)
			continue
		}
		out = append(out, inspectedOf(in, m.Pool, now, args.events))
	}
	if err := writeJSON(c.App.Writer, out); err != nil {
		return err
	}
	// As docker inspect: what was found is printed, then each slug
	// without a lease is named, and the status says some were missing.
	for _, slug := range missing {
		say(c.App.ErrWriter, "error", "no lease for %s", slug)
	}
	if len(missing) > 0 {
		return exitStatus(exitFailure)
	}
	return nil
}

// inspectedOf lays one inspection out; events 0 leaves the events out.
func inspectedOf(in lease.Inspection, pool lease.Pool, now time.Time, events int) inspected {
	r := row(in.Decision, now)
	o := inspected{object: r.object(true), PID: in.Decision.Lease.PID, InPool: pool.Contains(in.Decision.Alias), Events: in.Events}
	o.HeldAt, o.VacantSince = o.object.HeldAt, o.object.VacantSince
	if events == 0 {
		o.Events = []lease.Event{}
	}
	if v := in.Decision.Lease.Vacancy; !v.Since.IsZero() {
		o.Vacancy = &vacancy{Since: v.Since.UTC(), Observations: v.Observations, StaleFrom: in.StaleFrom.UTC(), MoreObservations: in.MoreObservations}
	}
	return o
}

// inspectCommand is "aliaslease inspect SLUG...".
func inspectCommand() *cli.Command {
	var args inspectArgs
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show everything known of each SLUG's lease, as JSON (exit 1 if one has none)",
		ArgsUsage: "SLUG...",
		UsageText: "aliaslease inspect [--json] [--events N] [--grace DURATION] SLUG...\n\nEXAMPLE:\n   aliaslease inspect bottle-7 | jq '.[0].holders'",
		Flags: []cli.Flag{graceFlag(&args.grace), &cli.BoolFlag{Name: "json", Destination: &args.json, Usage: "print JSON (what inspect always prints)"},
			&cli.IntFlag{Name: "events", Value: 10, Destination: &args.events, Usage: "include the newest `N` audit events of each lease (0: none)"}},
		Action: func(c *cli.Context) error { return inspect(c, &args) },
	}
}
