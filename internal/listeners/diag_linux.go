package listeners

import (
	"context"
	"encoding/binary"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// diagDump asks sock_diag for one family's sockets of proto in the states
// that hold an alias, filtered in the kernel by address.
func diagDump(ctx context.Context, fd int, family uint8, proto string, within []netip.Prefix, seq uint32, fn func(Socket)) error {
	bc, ok := diagFilter(within, family, binary.NativeEndian)
	if !ok {
		return nil
	}
	ipproto, states := uint8(unix.IPPROTO_TCP), uint32(1)<<tcpListen
	if proto == UDP {
		ipproto, states = unix.IPPROTO_UDP, ^uint32(0) // every bound UDP socket, connected or not
	}
	req := diagRequest(family, ipproto, states, bc, seq, binary.NativeEndian)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		done, err := parseDiag(buf[:n], proto, seq, binary.NativeEndian, fn)
		if done || err != nil {
			return err
		}
	}
}

// diagSocket opens a sock_diag socket whose reads end by ctx's deadline.
func diagSocket(ctx context.Context) (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return -1, err
	}
	if d, ok := ctx.Deadline(); ok {
		tv := unix.NsecToTimeval(max(time.Until(d), time.Millisecond).Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	return fd, nil
}
