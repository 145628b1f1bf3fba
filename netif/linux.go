//go:build linux

package netif

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/aliaslease/aliaslease/lease"
	"golang.org/x/sys/unix"
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

// reachable binds a TCP socket on alias (an ephemeral port, not
// listening) and connects to that port: the kernel's refusal (a reset)
// proves the alias is reached, and so does any answer; a bind alone
// proves nothing, since in a network namespace whose loopback is down it
// succeeds and only the connect fails (network unreachable). Nothing
// listens at any moment, so the check is never a holder for another
// aliaslease reading the host's listeners.
func reachable(ctx context.Context, alias netip.Addr) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cannot bind %s: %w", alias, err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: alias.As4()}); err != nil {
		return fmt.Errorf("cannot bind %s: %w", alias, err)
	}
	sa, err := unix.Getsockname(fd)
	in4, ok := sa.(*unix.SockaddrInet4)
	if err != nil || !ok {
		return fmt.Errorf("cannot bind %s: no port (%v)", alias, err)
	}
	if refusedAtOnce(alias, in4.Port) {
		return nil
	}
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp4", netip.AddrPortFrom(alias, uint16(in4.Port)).String())
	switch {
	case err == nil:
		return c.Close()
	case errors.Is(err, syscall.ECONNREFUSED):
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("checking %s: %w", alias, ctx.Err())
	}
	return fmt.Errorf("%s can be bound but not reached (%w); is loopback down? try: ip link set lo up", alias, err)
}

// refusedAtOnce says whether a blocking connect to alias:port is refused
// within refuseWithin: the common answer on a loopback that is up, in
// one system call, without the poller's round trip of a dial. Any other
// outcome (unreachable, a timeout, an interruption) is left to the dial,
// which says why.
func refusedAtOnce(alias netip.Addr, port int) bool {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(refuseWithin.Nanoseconds())
	if unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv) != nil {
		return false
	}
	return unix.Connect(fd, &unix.SockaddrInet4{Addr: alias.As4(), Port: port}) == unix.ECONNREFUSED
}

// refuseWithin bounds refusedAtOnce's connect, which blocks a thread: a
// loopback refuses in microseconds.
const refuseWithin = 100 * time.Millisecond
