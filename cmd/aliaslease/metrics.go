package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/aliaslease/aliaslease/lease"
)

// metricsArgs are metrics' flags.
type metricsArgs struct {
	textfile string        // --textfile
	grace    time.Duration // --grace
}

// poolCounts are the pool's counts as metrics exports them.
type poolCounts struct {
	size, leased, foreign int
	// states counts leases by state, every state present (zero or not),
	// so that a series never disappears when its count drops to zero.
	states map[lease.State]int
	// isolation counts leases by how their bottle is isolated
	// (isolationOf).
	isolation map[string]int
	dbBytes   int64
}

// leaseStates are the states a lease can be in, in the order metrics
// prints them.
var leaseStates = []lease.State{lease.Live, lease.Pending, lease.Stale, lease.Conflict, lease.Unknown}

// isolationStates are the isolation outcomes, in the order metrics prints
// them.
var isolationStates = []string{"confined", "verified", "leaky", "cut-off", "unverified"}

// countPool counts the decisions of a list: leases by state, foreign pool
// aliases, and the pool's size.
func countPool(pool lease.Pool, ds []lease.Decision) poolCounts {
	c := poolCounts{size: pool.Len(), states: map[lease.State]int{}, isolation: map[string]int{}}
	for _, s := range leaseStates {
		c.states[s] = 0
	}
	for _, s := range isolationStates {
		c.isolation[s] = 0
	}
	for _, d := range ds {
		if d.Lease.Slug == "" {
			if d.State == lease.Foreign {
				c.foreign++
			}
			continue
		}
		c.leased++
		c.states[d.State]++
		c.isolation[isolationOf(d)]++
	}
	return c
}

// writeMetrics writes the counts in the Prometheus text exposition format
// (version 0.0.4): one HELP and TYPE line per family, one sample per
// series.
func writeMetrics(w io.Writer, c poolCounts) error {
	var b bytes.Buffer
	family := func(name, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
	}
	family("aliaslease_pool_aliases", "Addresses in the pool.")
	fmt.Fprintf(&b, "aliaslease_pool_aliases %d\n", c.size)
	family("aliaslease_leases", "Leases in the database, inside the pool or not.")
	fmt.Fprintf(&b, "aliaslease_leases %d\n", c.leased)
	family("aliaslease_leases_by_state", "Leases by state (unknown: Docker was not asked or did not answer).")
	for _, s := range leaseStates {
		fmt.Fprintf(&b, "aliaslease_leases_by_state{state=%q} %d\n", s, c.states[s])
	}
	family("aliaslease_foreign_aliases", "Pool aliases that something holds without a lease.")
	fmt.Fprintf(&b, "aliaslease_foreign_aliases %d\n", c.foreign)
	family("aliaslease_leases_by_isolation", "Leases by isolation outcome (confined while a confined tree of the lease lives; else verify's last verdict).")
	for _, s := range isolationStates {
		fmt.Fprintf(&b, "aliaslease_leases_by_isolation{isolation=%q} %d\n", s, c.isolation[s])
	}
	family("aliaslease_database_bytes", "Size of the lease database file (0 when not created yet).")
	fmt.Fprintf(&b, "aliaslease_database_bytes %d\n", c.dbBytes)
	_, err := w.Write(b.Bytes())
	return err
}

func metrics(c *cli.Context, args *metricsArgs) error {
	if err := noArgs(c); err != nil {
		return err
	}
	m, err := judgingManager(c, args.grace, false)
	if err != nil {
		return err
	}
	ds, err := m.List(c.Context)
	if err != nil {
		return err
	}
	counts := countPool(m.Pool, ds)
	if fi, err := os.Stat(m.Path); err == nil {
		counts.dbBytes = fi.Size()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if args.textfile == "" {
		return writeMetrics(c.App.Writer, counts)
	}
	var b bytes.Buffer
	writeMetrics(&b, counts)
	if err := writeAtomically(args.textfile, b.Bytes()); err != nil {
		// Name the file asked for, not the temporary one beside it.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("metrics: cannot write --textfile %q: %w", args.textfile, err)
	}
	return nil
}

// metricsCommand is "aliaslease metrics", for node_exporter's textfile
// collector.
func metricsCommand() *cli.Command {
	var args metricsArgs
	return &cli.Command{
		Name:  "metrics",
		Usage: "print the pool's counts and the database's size in the Prometheus text format",
		UsageText: "aliaslease metrics [--textfile PATH] [--grace DURATION]\n\n" +
			"The isolation counts are verify's last verdicts (unverified: none for the lease).\n\n" +
			"EXAMPLE:\n   aliaslease metrics --textfile /var/lib/prometheus/node-exporter/aliaslease.prom",
		Flags: []cli.Flag{graceFlag(&args.grace),
			&cli.StringFlag{Name: "textfile", Destination: &args.textfile,
				Usage: "write to `PATH` (a temporary file renamed over it) instead of stdout; node_exporter reads *.prom"},
		},
		Action: func(c *cli.Context) error { return metrics(c, &args) },
	}
}
