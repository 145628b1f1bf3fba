package verify

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Attempt is what a probe did for one target.
type Attempt struct {
	Target Target
	Dialed netip.AddrPort // where it connected: Target's address, or --via's for a loopback one
	Err    error          // nil: the nonce was sent
}

// Via returns where a probe connects for t: t itself, or via's address
// on t's port when via is valid and t is a loopback address (the bottle's
// own 127.0.0.0/8 is not the host's; via is how it reaches the host's).
func Via(t Target, via netip.Addr) netip.AddrPort {
	if via.IsValid() && t.Addr.Addr().IsLoopback() {
		return netip.AddrPortFrom(via, t.Addr.Port())
	}
	return t.Addr
}

// Probe connects to every target at once, sends the nonce on each
// connection (twice on UDP, which may drop one), and reports what it did,
// in the order of targets. Each attempt gives up after timeout.
func Probe(ctx context.Context, nonce string, via netip.Addr, targets []Target, timeout time.Duration) []Attempt {
	out := make([]Attempt, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		out[i] = Attempt{Target: t, Dialed: Via(t, via)}
		wg.Go(func() { out[i].Err = send(ctx, t.Proto, out[i].Dialed, greeting(nonce), timeout) })
	}
	wg.Wait()
	return out
}

func send(ctx context.Context, proto string, to netip.AddrPort, msg []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, proto, to.String())
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetWriteDeadline(deadline)
	n := 1
	if proto == "udp" {
		n = 2
	}
	for range n {
		if _, err := conn.Write(msg); err != nil {
			return err
		}
	}
	return nil
}
