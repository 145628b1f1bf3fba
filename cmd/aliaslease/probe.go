package main

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/aliaslease/aliaslease/internal/verify"
)

// probeArgs are probe's flags.
type probeArgs struct {
	nonce   string
	via     string
	timeout time.Duration
}

// probeCommand is "aliaslease probe --nonce N [--via ADDR] TARGET...",
// which verify runs inside the bottle.
func probeCommand() *cli.Command {
	var args probeArgs
	return &cli.Command{
		Name:      "probe",
		Usage:     "connect to verify's canaries from inside a bottle (verify runs it)",
		ArgsUsage: "TARGET...",
		UsageText: "aliaslease probe --nonce NONCE [--via ADDR] tcp:ADDR:PORT|udp:ADDR:PORT...\n\n" +
			"Sends NONCE to each target and says what it tried; the verdict is verify's.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "nonce", Destination: &args.nonce, Usage: "the `NONCE` of the verify that runs it"},
			&cli.StringFlag{Name: "via", Destination: &args.via, Usage: "connect to loopback targets at `ADDR` instead (a VM's gateway)"},
			&cli.DurationFlag{Name: "timeout", Value: 3 * time.Second, Destination: &args.timeout, Usage: "give up on a target after `DURATION`"},
		},
		Action: func(c *cli.Context) error { return probe(c, &args) },
	}
}

func probe(c *cli.Context, args *probeArgs) error {
	if !verify.ValidNonce(args.nonce) {
		return usagef("probe: --nonce must be the 32 hex digits verify passes, not %q", args.nonce)
	}
	var via netip.Addr
	if args.via != "" {
		var err error
		if via, err = netip.ParseAddr(args.via); err != nil || via.Zone() != "" {
			return usagef("--via must be an IP address, not %q", args.via)
		}
	}
	if c.NArg() == 0 {
		return usagef("probe: no TARGET given")
	}
	targets := make([]verify.Target, 0, c.NArg())
	for _, s := range c.Args().Slice() {
		t, err := verify.ParseTarget(s)
		if err != nil {
			return usageError{msg: err.Error()}
		}
		targets = append(targets, t)
	}
	for _, a := range verify.Probe(c.Context, args.nonce, via, targets, args.timeout) {
		to := ""
		if a.Dialed != a.Target.Addr {
			to = " via " + a.Dialed.String()
		}
		if a.Err != nil {
			fmt.Fprintf(c.App.Writer, "%s%s: %s\n", a.Target, to, escape(a.Err.Error()))
		} else {
			fmt.Fprintf(c.App.Writer, "%s%s: sent\n", a.Target, to)
		}
	}
	return nil
}
