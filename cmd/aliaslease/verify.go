package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/aliaslease/aliaslease/internal/verify"
	"github.com/aliaslease/aliaslease/lease"
)

// errNotIsolated is verify's finding that a bottle is not isolated: exit 9.
var errNotIsolated = errors.New("not isolated")

// verifyArgs are verify's flags.
type verifyArgs struct {
	json    bool
	via     string        // --via ADDR, passed to the probe
	timeout time.Duration // --timeout: how long the probe may take
}

// settleTime is how long the canaries wait, once the probe has ended, for
// what it sent just before (a connection queued, a datagram in flight).
const settleTime = 500 * time.Millisecond

// verifyCommand is "aliaslease verify SLUG [-- PREFIX...]".
func verifyCommand() *cli.Command {
	var args verifyArgs
	return &cli.Command{
		Name:      "verify",
		Usage:     "check, from inside SLUG's bottle, what it can reach on the host",
		ArgsUsage: "SLUG [-- PREFIX...]",
		UsageText: "aliaslease verify [--json] [--via ADDR] [--timeout DURATION] SLUG [-- PREFIX...]\n\n" +
			"Opens canaries on the host and runs a probe: with no PREFIX as a host process\n" +
			"(in SLUG's confinement where it has one), else as PREFIX... probe TARGET...,\n" +
			"where PREFIX ends with an aliaslease binary the bottle can run. Exit 0 only\n" +
			"for isolated (its own alias reached, nothing else); 9 for leaky or cut-off.\n\n" +
			"EXAMPLES:\n   aliaslease verify bottle-7 -- docker exec bottle-7 /aliaslease\n" +
			"   aliaslease verify --via 10.0.2.2 vm-3 -- smolvm machine exec --name vm-3 -- /usr/local/bin/aliaslease",
		Flags: []cli.Flag{
			jsonFlag(&args.json),
			&cli.StringFlag{Name: "via", Destination: &args.via, Usage: "the `ADDR` at which the bottle reaches the host's loopback (a VM's gateway)"},
			&cli.DurationFlag{Name: "timeout", Value: 60 * time.Second, Destination: &args.timeout, Usage: "how long the probe may take, a `DURATION`"},
		},
		Action: func(c *cli.Context) error { return verifyCmd(c, &args) },
	}
}

func verifyCmd(c *cli.Context, args *verifyArgs) error {
	slug, prefix, err := slugAndPrefix(c.Args().Slice())
	if err != nil {
		return err
	}
	var via netip.Addr
	if args.via != "" {
		if via, err = netip.ParseAddr(args.via); err != nil || via.Zone() != "" {
			return usagef("--via must be an IP address, not %q", args.via)
		}
	}
	m, err := manager(c)
	if err != nil {
		return err
	}
	l, err := m.Lease(c.Context, slug)
	if errors.Is(err, lease.ErrNotFound) {
		return usagef("verify: %s has no lease; acquire one first", slug)
	} else if err != nil {
		return err
	}
	leases, err := m.Leases(c.Context)
	if err != nil {
		return err
	}
	attach, closeGroup := confinedAttach(l)
	defer closeGroup()
	rep := verifyLease(c, l, canarySpecs(l, leases, m.Pool), probeSpec{prefix: prefix, via: via, timeout: args.timeout}, attach)
	if err := m.RecordIsolation(c.Context, slug, l.Generation, rep.verdict, rep.at); err != nil {
		return fmt.Errorf("record the verdict: %w", err)
	}
	if err := writeVerifyReport(c, &rep, args.json); err != nil {
		return err
	}
	if rep.verdict != verify.Isolated {
		return rep.failure()
	}
	return nil
}

// verifyReport is what one verify found.
type verifyReport struct {
	lease   lease.Lease
	verdict string
	leaks   []string
	at      time.Time
	results []verify.Result
	skipped []verify.Skipped
	probe   probeRun
}

// verifyLease opens the canaries, runs the probe and judges. attach,
// when not nil, puts a probe without PREFIX in the lease's confinement
// (see confinedAttach); nil runs it as a plain host process, which is all
// a lease without a live confinement has.
func verifyLease(c *cli.Context, l lease.Lease, specs []verify.Spec, ps probeSpec, attach func(*exec.Cmd) error) verifyReport {
	nonce := verify.NewNonce()
	can := verify.Open(specs, nonce)
	rep := verifyReport{lease: l, skipped: can.Skipped()}
	if len(ps.prefix) > 0 {
		attach = nil // the bottle's own command is its confinement
	}
	rep.probe = runProbe(c.Context, ps, nonce, can.Targets(), attach)
	rep.results = can.Close(settleTime)
	rep.verdict, rep.leaks = verify.Verdict(rep.results, l.Alias)
	rep.at = time.Now().UTC()
	return rep
}

// failure is the error of a verdict other than isolated.
func (r *verifyReport) failure() error {
	switch {
	case r.verdict == verify.Leaky:
		return fmt.Errorf("%s is %w (leaky): its probe reached %s", r.lease.Slug, errNotIsolated, strings.Join(r.leaks, ", "))
	case r.probe.err != nil && errors.Is(r.probe.err, fs.ErrPermission):
		// Root may execute any file: only a probe run in a confinement, as
		// its tree's user, meets this, and the fix is where the binary is.
		return fmt.Errorf("%s is %w (cut-off): the probe did not run: %v (it runs in the confinement as the tree's user, who must be able to execute it: install aliaslease in /usr/local/bin)",
			r.lease.Slug, errNotIsolated, r.probe.err)
	case r.probe.err != nil:
		return fmt.Errorf("%s is %w (cut-off): the probe did not run: %v", r.lease.Slug, errNotIsolated, r.probe.err)
	}
	return fmt.Errorf("%s is %w (cut-off): its probe reached nothing, not even its own alias %s (probe exit status %d)",
		r.lease.Slug, errNotIsolated, r.lease.Alias, r.probe.exit)
}

// slugAndPrefix splits verify's arguments, "SLUG [-- PREFIX...]" (the
// "--" kept by reorder).
func slugAndPrefix(args []string) (string, []string, error) {
	dash := slices.Index(args, "--")
	if dash < 0 {
		dash = len(args)
	}
	switch {
	case dash == 0:
		return "", nil, usagef("verify: missing SLUG; see aliaslease verify --help")
	case dash > 1:
		return "", nil, usagef("verify: one SLUG expected before --, got %d arguments", dash)
	case dash == len(args)-1:
		return "", nil, usagef("verify: -- must be followed by a PREFIX that ends with an aliaslease binary")
	}
	if err := lease.ValidateSlug(args[0]); err != nil {
		return "", nil, err
	}
	if dash == len(args) {
		return args[0], nil, nil
	}
	return args[0], args[dash+1:], nil
}

// canarySpecs are the addresses verify opens canaries on: SLUG's alias,
// the next free pool alias, one leased to another slug, 127.0.0.1, ::1
// and a bridge address of the host; each once.
func canarySpecs(l lease.Lease, leases []lease.Lease, pool lease.Pool) []verify.Spec {
	specs := []verify.Spec{{Name: "own alias", Addr: l.Alias}}
	leased := make(map[netip.Addr]bool, len(leases))
	for _, o := range leases {
		leased[o.Alias] = true
	}
	for a := range pool.All {
		if !leased[a] && a != l.Alias {
			specs = append(specs, verify.Spec{Name: "next free alias", Addr: a})
			break
		}
	}
	for _, o := range leases {
		if o.Slug != l.Slug {
			specs = append(specs, verify.Spec{Name: "alias of " + escape(o.Slug), Addr: o.Alias})
			break
		}
	}
	specs = append(specs, verify.Spec{Name: "127.0.0.1", Addr: netip.MustParseAddr("127.0.0.1")},
		verify.Spec{Name: "::1", Addr: netip.IPv6Loopback()})
	if name, addr, ok := verify.BridgeAddr(); ok {
		specs = append(specs, verify.Spec{Name: "bridge " + name, Addr: addr})
	}
	seen := map[netip.Addr]bool{}
	return slices.DeleteFunc(specs, func(s verify.Spec) bool {
		dup := seen[s.Addr]
		seen[s.Addr] = true
		return dup
	})
}
