package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
)

// verifyObject is verify --json's answer.
type verifyObject struct {
	Slug       string         `json:"slug"`
	Alias      string         `json:"alias"`
	Generation uint64         `json:"generation"`
	Verdict    string         `json:"verdict"`
	VerifiedAt time.Time      `json:"verified_at"`
	Leaks      []string       `json:"leaks"`
	Canaries   []canaryObject `json:"canaries"`
	Skipped    []canaryObject `json:"skipped"`
	Probe      probeObject    `json:"probe"`
}

// canaryObject is one canary: where it listened and what reached it.
type canaryObject struct {
	Name       string `json:"name"`
	Address    string `json:"address"`
	TCP        string `json:"tcp,omitempty"`
	UDP        string `json:"udp,omitempty"`
	TCPReached bool   `json:"tcp_reached"`
	UDPReached bool   `json:"udp_reached"`
	Stray      int    `json:"stray"`
	Error      string `json:"error,omitempty"` // why a skipped one was not opened
}

// probeObject is what became of the probe.
type probeObject struct {
	Command  []string `json:"command"`
	ExitCode int      `json:"exit_code"`
	Error    string   `json:"error,omitempty"`
	Output   []string `json:"output"`
}

func (r *verifyReport) object() verifyObject {
	o := verifyObject{Slug: r.lease.Slug, Alias: r.lease.Alias.String(), Generation: r.lease.Generation,
		Verdict: r.verdict, VerifiedAt: r.at, Leaks: append([]string{}, r.leaks...),
		Canaries: []canaryObject{}, Skipped: []canaryObject{},
		Probe: probeObject{Command: r.probe.argv, ExitCode: r.probe.exit, Output: r.probe.lines()}}
	if r.probe.err != nil {
		o.Probe.Error = r.probe.err.Error()
	}
	for _, c := range r.results {
		o.Canaries = append(o.Canaries, canaryObject{Name: c.Name, Address: c.Addr.String(), TCP: c.TCP.Addr.String(),
			UDP: c.UDP.Addr.String(), TCPReached: c.TCPReached, UDPReached: c.UDPReached, Stray: c.Stray})
	}
	for _, s := range r.skipped {
		o.Skipped = append(o.Skipped, canaryObject{Name: s.Spec.Name, Address: s.Spec.Addr.String(), Error: s.Err.Error()})
	}
	return o
}

// writeVerifyReport prints the verdict and each canary on stdout; notes
// (skipped canaries, what the probe said when it did not isolate) go to
// stderr.
func writeVerifyReport(c *cli.Context, r *verifyReport, asJSON bool) error {
	if asJSON {
		return writeJSON(c.App.Writer, r.object())
	}
	for _, s := range r.skipped {
		say(c.App.ErrWriter, "note", "no canary on %s (%s): %v", s.Spec.Name, s.Spec.Addr, s.Err)
	}
	if r.verdict == "cut-off" { // what the probe said is why
		for _, line := range r.probe.lines() {
			say(c.App.ErrWriter, "note", "probe: %s", line)
		}
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\t%s\n", escape(r.lease.Slug), r.verdict)
	fmt.Fprintln(tw, "CANARY\tADDRESS\tTCP\tUDP")
	for _, res := range r.results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res.Name, res.Addr, reached(res.TCPReached), reached(res.UDPReached))
	}
	return tw.Flush()
}

func reached(b bool) string {
	if b {
		return "reached"
	}
	return "-"
}
