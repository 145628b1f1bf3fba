//go:build linux

package netif

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// On Linux all of 127.0.0.0/8 is local already, so nothing is added;
// aliases are only checked, and System's fields are not used.

func sysUp(ctx context.Context, _ System, alias netip.Addr, _ lease.Pool) error {
	return reachable(ctx, alias)
}

func sysUpAll(ctx context.Context, _ System, pool lease.Pool) ([]netip.Addr, error) {
	var err error
	pool.All(func(a netip.Addr) bool {
		err = reachable(ctx, a)
		return err == nil
	})
	return nil, err
}

func sysStatus(ctx context.Context, _ System, pool lease.Pool) ([]AliasStatus, error) {
	var st []AliasStatus
	pool.All(func(a netip.Addr) bool {
		s := AliasStatus{Alias: a, Up: true}
		if err := reachable(ctx, a); err != nil {
			s.Up, s.Detail = false, err.Error()
		}
		st = append(st, s)
		return true
	})
	return st, nil
}

// reachable listens on alias (an ephemeral TCP port), connects to it and
// closes both. A bind alone proves nothing: in a network namespace whose
// loopback is down it succeeds, and only the connect fails.
func reachable(ctx context.Context, alias netip.Addr) error {
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
