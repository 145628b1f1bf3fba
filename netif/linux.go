//go:build linux

package netif

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// System is the host's loopback interface. On Linux all of 127.0.0.0/8 is
// local already, so nothing is added; aliases are only checked.
type System struct {
	Stdin  *os.File  // unused on Linux
	Stderr io.Writer // unused on Linux
}

// Up checks that alias can be bound and reached.
func (System) Up(ctx context.Context, alias netip.Addr, _ lease.Pool) error {
	return Reachable(ctx, alias)
}

// UpAll checks every pool alias; nothing needs adding on Linux. It returns
// no added aliases, and an error naming the first unreachable one.
func (s System) UpAll(ctx context.Context, pool lease.Pool) ([]netip.Addr, error) {
	var err error
	pool.All(func(a netip.Addr) bool {
		err = Reachable(ctx, a)
		return err == nil
	})
	return nil, err
}

// Status checks every pool alias.
func (System) Status(ctx context.Context, pool lease.Pool) ([]AliasStatus, error) {
	var st []AliasStatus
	pool.All(func(a netip.Addr) bool {
		s := AliasStatus{Alias: a, Up: true}
		if err := Reachable(ctx, a); err != nil {
			s.Up, s.Detail = false, err.Error()
		}
		st = append(st, s)
		return true
	})
	return st, nil
}

// Reachable listens on alias (an ephemeral TCP port), connects to it and
// closes both. A bind alone proves nothing: in a network namespace whose
// loopback is down it succeeds, and only the connect fails.
func Reachable(ctx context.Context, alias netip.Addr) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp4", netip.AddrPortFrom(alias, 0).String())
	if err != nil {
		return fmt.Errorf("cannot bind %s: %w", alias, err)
	}
	defer ln.Close()
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp4", ln.Addr().String())
	if err != nil {
		return fmt.Errorf("%s can be bound but not reached (%w); is loopback down? try: ip link set lo up", alias, err)
	}
	return c.Close()
}
