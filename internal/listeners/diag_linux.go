package listeners

import (
	"context"
	"encoding/binary"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// diagRequest builds one dump request: every socket of family and proto in
// states, filtered in the kernel by bytecode when it is not nil.
func diagRequest(family, proto uint8, states uint32, bytecode []byte, seq uint32, order binary.ByteOrder) []byte {
	n := nlmsgHdrLen + diagReqLen
	if bytecode != nil {
		n += 4 + len(bytecode) // nlattr header; bytecode is a multiple of 4
	}
	b := make([]byte, n)
	order.PutUint32(b[0:], uint32(n))
	order.PutUint16(b[4:], sockDiagByFam)
	order.PutUint16(b[6:], nlmFRequest|nlmFDump)
	order.PutUint32(b[8:], seq)
	r := b[nlmsgHdrLen:]
	r[0], r[1] = family, proto
	order.PutUint32(r[4:], states)
	order.PutUint32(r[48:], ^uint32(0)) // cookie INET_DIAG_NOCOOKIE
	order.PutUint32(r[52:], ^uint32(0))
	if bytecode != nil {
		a := r[diagReqLen:]
		order.PutUint16(a[0:], uint16(4+len(bytecode)))
		order.PutUint16(a[2:], diagReqBytecode)
		copy(a[4:], bytecode)
	}
	return b
}

// diagDump asks sock_diag for one family's sockets of proto in the states
// that hold an alias, filtered in the kernel by address, reading the
// answer into buf (diagBufLen: the dumps of one call share it).
func diagDump(ctx context.Context, fd int, family uint8, proto string, within []netip.Prefix, seq uint32, buf []byte, fn func(Socket)) error {
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

// diagBufLen is the size of a dump's read buffer: more than the kernel
// puts in one message of a dump.
const diagBufLen = 64 << 10

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
