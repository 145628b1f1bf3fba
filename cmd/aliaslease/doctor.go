package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/aliaslease/aliaslease/internal/doctor"
	"github.com/aliaslease/aliaslease/netif"
	"github.com/urfave/cli/v2"
)

// doctorArgs are doctor's flags.
type doctorArgs struct {
	json  bool          // --json
	grace time.Duration // --grace
}

func doctorCmd(c *cli.Context, args *doctorArgs) error {
	if err := noArgs(c); err != nil {
		return err
	}
	m, err := judgingManager(c, args.grace, false)
	if err != nil {
		return err
	}
	m.NameOwners = true // shown: name each listener's process
	r := doctor.Run(c.Context, doctor.Config{
		Manager:    m,
		Interface:  netif.System{Stdin: os.Stdin, Stderr: c.App.ErrWriter},
		StuckAfter: 30 * time.Second,
		Trees:      treesHere(),
		Firewall:   hostConfinements{},
	})
	if args.json {
		if err := writeJSON(c.App.Writer, r); err != nil {
			return err
		}
	} else {
		printReport(c.App.Writer, r)
	}
	if !r.Healthy() {
		return exitStatus(exitUnhealthy)
	}
	return nil
}

// printReport prints the report as text; every string from outside is
// escaped, and a count that could not be read says so.
func printReport(w io.Writer, r *doctor.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	d := r.Database
	fmt.Fprintf(tw, "database\t%s\n", escape(d.Path))
	if d.Exists {
		fmt.Fprintf(tw, "\tsize %d bytes, schema %s, %s leases, %s audit events\n", d.Size, countText(d.Schema), countText(d.Leases), countText(d.Events))
	}
	fmt.Fprintf(tw, "\tcheck: %s\n", escape(d.Check))
	l := r.Lock
	held := "free"
	if l.Held {
		held = "held"
		if l.PID != 0 {
			held += fmt.Sprintf(" by pid %d (aliaslease %s) since %s", l.PID, escape(l.Command), l.Since.Format(time.RFC3339))
		} else {
			held += " by a process that did not record itself (an operator's flock?)"
		}
	}
	fmt.Fprintf(tw, "lock\t%s: %s\n", escape(l.Path), held)
	dk := r.Docker
	switch {
	case dk.Mode == "off":
		fmt.Fprintf(tw, "docker\toff (--docker off)\n")
	case dk.Reachable:
		fmt.Fprintf(tw, "docker\t%s (from %s): engine %s, API %s\n", escape(dk.Host), escape(dk.Source), escape(dk.Version), escape(dk.APIVersion))
	default:
		fmt.Fprintf(tw, "docker\t%s (from %s): not reachable\n", escape(dk.Host), escape(dk.Source))
	}
	p := r.Pool
	if p.Counted {
		fmt.Fprintf(tw, "pool\t%s: %d aliases, %d leased (%d live, %d pending, %d stale, %d conflict, %d unknown; %d outside the pool), %d foreign, %d free\n",
			p.Spec, p.Size, p.Leased, p.Live, p.Pending, p.Stale, p.Conflict, p.Unknown, p.Outside, p.Foreign, p.Free)
	} else {
		fmt.Fprintf(tw, "pool\t%s: %d aliases; leases unknown (the database was not read)\n", p.Spec, p.Size)
	}
	fmt.Fprintf(tw, "interface\t%d of %d checked pool aliases usable\n", usable(r.Interface), len(r.Interface))
	printIsolation(tw, r.Isolation)
	fmt.Fprintf(tw, "shared\t%s: %s (%s)\n", escape(r.Shared.Path), r.Shared.State, escape(r.Shared.Note))
	tw.Flush()
	if p.Outside > 0 {
		fmt.Fprintf(w, "note: %d lease(s) hold aliases outside the pool; they are kept and renewed until released\n", p.Outside)
	}
	printVacant(w, r.Vacant)
	for _, pr := range r.Warnings {
		fmt.Fprintf(w, "warning: %s: %s\n  hint: %s\n", pr.Kind, escape(pr.Detail), escape(pr.Hint))
	}
	if r.Healthy() {
		fmt.Fprintln(w, "no problems found")
		return
	}
	fmt.Fprintf(w, "%d problem(s):\n", len(r.Problems))
	for _, pr := range r.Problems {
		fmt.Fprintf(w, "- %s: %s\n  hint: %s\n", pr.Kind, escape(pr.Detail), escape(pr.Hint))
	}
}

// usable counts the aliases up on the interface.
func usable(as []doctor.Alias) int {
	up := 0
	for _, a := range as {
		if a.Up {
			up++
		}
	}
	return up
}

// printVacant says of each lease observations found vacant since when,
// and when it can be stale at the earliest.
func printVacant(w io.Writer, vs []doctor.Vacant) {
	for _, v := range vs {
		when := "now"
		if d := time.Until(v.StaleFrom); d > 0 {
			when = "in " + d.Round(time.Second).String()
		}
		fmt.Fprintf(w, "vacant: %s on %s since %s (%d of 3 observations): stale %s at the earliest",
			escape(v.Slug), v.Alias, v.Since.Format(time.RFC3339), v.Observations, when)
		if v.MoreObservations > 0 {
			fmt.Fprintf(w, ", after %d more gc run(s) find it vacant", v.MoreObservations)
		}
		fmt.Fprintln(w)
	}
}

// printIsolation says what enforces isolation here, and of each lease
// what verify last found; leases never verified are counted, not listed
// (doctor --json lists every lease).
func printIsolation(w io.Writer, iso doctor.Isolation) {
	fmt.Fprintf(w, "isolation\t%s\n", iso.Enforced)
	unverified := 0
	for _, l := range iso.Leases {
		if l.Isolation == "confined" && l.VerifiedAt == nil {
			fmt.Fprintf(w, "\t%s on %s: confined\n", escape(l.Slug), l.Alias)
			continue
		}
		if l.VerifiedAt == nil {
			unverified++
			continue
		}
		fmt.Fprintf(w, "\t%s on %s: %s (verify at %s)\n", escape(l.Slug), l.Alias, l.Isolation, l.VerifiedAt.Format(time.RFC3339))
	}
	if unverified > 0 {
		fmt.Fprintf(w, "\t%d lease(s) unverified (aliaslease verify SLUG checks one)\n", unverified)
	}
}

// countText is a count that may be unknown, as doctor prints it.
func countText(n *int) string {
	if n == nil {
		return "unknown"
	}
	return strconv.Itoa(*n)
}

// doctorCommand is "aliaslease doctor", the health report.
func doctorCommand() *cli.Command {
	var args doctorArgs
	return &cli.Command{
		Name:      "doctor",
		Usage:     "report the health of the database, lock, Docker, pool and interface; exit 10 on a problem",
		UsageText: "aliaslease doctor [--json] [--grace DURATION]\n\nEXAMPLE:\n   aliaslease doctor >/dev/null; [ $? -eq 10 ] && echo 'unhealthy: see aliaslease doctor'",
		Flags:     []cli.Flag{jsonFlag(&args.json), graceFlag(&args.grace)},
		Action:    func(c *cli.Context) error { return doctorCmd(c, &args) },
	}
}
