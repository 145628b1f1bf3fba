package listeners

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"slices"
)

// Protocols a Socket can have.
const (
	TCP = "tcp" // a TCP socket in the LISTEN state
	UDP = "udp" // a bound UDP socket, connected or not
)

// ErrUnsupported is returned where this package cannot read the host's
// socket tables (any system but Linux and macOS).
var ErrUnsupported = errors.New("listeners: reading the host's sockets is not supported on this system")

// ErrTable wraps every failure to read or parse a socket table: the
// answer is incomplete and must not be read as "nothing is bound".
var ErrTable = errors.New("listeners: socket table")

// Socket is one socket of the host bound on a local address.
type Socket struct {
	// Addr is the local address and port. A v4-mapped IPv6 address
	// (::ffff:127.0.0.16) is reported as the IPv4 address it maps.
	Addr netip.AddrPort
	// Proto is TCP or UDP.
	Proto string
	// Inode identifies the socket to Owners: the socket's inode on
	// Linux, the kernel's socket handle (xso_so) on macOS.
	Inode uint64

	pid int // the last process that used it, where the table says (macOS)
}

// String is "tcp 127.0.0.16:8080".
func (s Socket) String() string { return s.Proto + " " + s.Addr.String() }

// Process is the process that has a socket open.
type Process struct {
	PID     int
	Command string // the kernel's short name (comm), "" when unreadable
}

// Wildcards are the prefixes of sockets bound on every address at once
// (0.0.0.0 and ::). They name no alias, so they hold none, but they block
// their port on every alias: add them to Bound's prefixes to see them.
var Wildcards = []netip.Prefix{
	netip.PrefixFrom(netip.IPv4Unspecified(), 32),
	netip.PrefixFrom(netip.IPv6Unspecified(), 128),
}

// Bound returns the host's sockets bound on an address inside one of
// within (Range turns a pool's ranges into prefixes; adjacent and
// overlapping ones are merged, so a pool may also be given address by
// address): TCP sockets listening and UDP sockets bound, whoever owns them,
// except this process's own sockets (those open in it when Bound reads its
// file descriptors, after the tables). A wildcard socket (0.0.0.0, ::) is
// returned only when within holds it (see Wildcards). The result is sorted
// by address, port and protocol.
//
// An error means the host's tables could not be read in full; it wraps
// ErrTable, ErrUnsupported or the context's error.
func Bound(ctx context.Context, within []netip.Prefix) ([]Socket, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	set := newSet(within)
	if set.empty() {
		return nil, nil
	}
	socks, err := bound(ctx, set, viaAuto)
	if err != nil {
		return nil, err
	}
	sortSockets(socks)
	return socks, nil
}

// Owners names the process that has each socket open, by Inode, for
// reports (list, doctor): it walks every process's descriptors, so it is
// never on acquire's path. A socket whose owner cannot be read (another
// user's process, one that exited) is absent from the map; that is not an
// error.
func Owners(socks []Socket) (map[uint64]Process, error) {
	if len(socks) == 0 {
		return map[uint64]Process{}, nil
	}
	return owners(socks)
}

// HostNetns reports whether this process is in the host's network
// namespace, where Bound sees the host's listeners. known is false when
// the system does not let it tell (see the package documentation); then
// same is false too.
func HostNetns() (same, known bool, err error) { return hostNetns() }

// via chooses how Linux reads its tables; tests and benchmarks force one.
type via int

const (
	viaAuto via = iota // sock_diag, /proc/net where netlink is refused
	viaDiag            // sock_diag only
	viaProc            // /proc/net only
)

func sortSockets(socks []Socket) {
	slices.SortFunc(socks, func(a, b Socket) int {
		return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Inode, b.Inode))
	})
}
