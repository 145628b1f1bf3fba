package main

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/aliaslease/aliaslease/internal/verify"
)

// probeSpec is how verify runs its probe.
type probeSpec struct {
	prefix  []string // PREFIX...: ends with an aliaslease binary the bottle can run; none: this binary, on the host
	via     netip.Addr
	timeout time.Duration
}

// probeRun is what became of the probe.
type probeRun struct {
	argv   []string
	exit   int    // its exit status; -1 when it did not run or was killed
	output []byte // its stdout and stderr, up to maxProbeOutput
	err    error  // why it did not run
}

// maxProbeOutput bounds what verify keeps of a probe's output.
const maxProbeOutput = 64 << 10

// limitedBuffer keeps the first maxProbeOutput bytes written to it.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxProbeOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// runProbe runs the probe with the targets and waits for it, up to the
// spec's timeout. attach, when not nil, puts the probe in a confinement
// before it starts (a lease's cgroup: see confine.Group.Attach); when it
// fails the probe is not run.
func runProbe(ctx context.Context, ps probeSpec, nonce string, targets []verify.Target, attach func(*exec.Cmd) error) probeRun {
	args := []string{"probe", "--nonce", nonce}
	if ps.via.IsValid() {
		args = append(args, "--via", ps.via.String())
	}
	for _, t := range targets {
		args = append(args, t.String())
	}
	r := probeRun{exit: -1}
	if len(ps.prefix) > 0 {
		r.argv = append(append([]string(nil), ps.prefix...), args...)
	} else {
		self, err := os.Executable()
		if err != nil {
			r.err = err
			return r
		}
		r.argv = append([]string{self}, args...)
	}
	ctx, cancel := context.WithTimeout(ctx, ps.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.argv[0], r.argv[1:]...)
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	if attach != nil {
		if r.err = attach(cmd); r.err != nil {
			return r
		}
	}
	err := cmd.Run()
	r.output = out.Bytes()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.exit = ee.ExitCode()
		if ctx.Err() != nil {
			r.err = errors.New("timed out after " + ps.timeout.String())
		}
	case err != nil:
		r.err = err
	default:
		r.exit = 0
	}
	return r
}

// lines is the probe's output as lines, for the report.
func (r *probeRun) lines() []string {
	s := strings.TrimRight(string(r.output), "\n")
	if s == "" {
		return []string{}
	}
	return strings.Split(s, "\n")
}
