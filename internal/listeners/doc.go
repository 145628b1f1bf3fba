// Package listeners reads which sockets of the host are bound on which
// loopback addresses: the listener holders of the contract (a TCP socket
// listening or a UDP socket bound on an alias, whoever owns it: a VMM's
// port forward, a dev server, a docker-proxy whose engine is down).
//
// Bound asks for the sockets inside a set of prefixes (the leased and the
// pool aliases, and Wildcards for the health report's 0.0.0.0 and ::
// sockets, which name no alias). Owners names their processes, for
// reports only: it walks every process's descriptors. HostNetns says
// whether the tables this process sees are the host's.
//
// # Linux
//
// Bound asks sock_diag (NETLINK_SOCK_DIAG, inet_diag_req_v2) for the four
// tables (TCP and UDP, IPv4 and IPv6): TCP in the LISTEN state only, UDP
// in every state (a UDP socket in the table is bound, connected or not).
// The kernel filters by address too: the prefixes are compiled to
// inet_diag bytecode (a chain of S_COND ops), whose IPv4 conditions also
// match v4-mapped addresses of IPv6 sockets, so with thousands of
// unrelated sockets only the few that matter are copied out. Nothing of
// it needs privileges. Where netlink is refused (a sandbox, a kernel
// without the diag modules) that table is read from /proc/net instead,
// the same data as text, slower (BenchmarkBound, 10,000 sockets on the
// host and a pool of 16: about 1 ms through sock_diag, 6 ms without the
// kernel's address filter, 30 ms from /proc/net).
// /proc/net prints addresses as the host's 32-bit words of network-order
// bytes, so the parser takes the host's byte order.
//
// This process's own sockets (verify's canaries, acquire's reachability
// check) are never holders: sockets whose inode is one of this process's
// descriptors (/proc/self/fd, read after the tables) are left out.
//
// A process in a network namespace other than the host's (a launcher in
// a container, `unshare -n`) sees that namespace's sockets, not the
// host's. HostNetns tells: since Linux 6.18 the initial network namespace
// has a fixed inode (0xEFFFFFF9), so the answer is certain for any user.
// On older kernels it compares /proc/self/ns/net with /proc/1/ns/net,
// which is meaningful only in the initial PID namespace and readable only
// by root (or init's owner): otherwise it answers "unknown".
//
// Owners reads /proc/PID/fd of every process; as another user it sees only
// that user's processes, and a socket it cannot attribute is left out
// rather than guessed.
//
// # macOS
//
// Bound reads sysctl net.inet.tcp.pcblist_n and net.inet.udp.pcblist_n
// through golang.org/x/sys/unix.SysctlRaw: the tables netstat and lsof
// read, one per protocol for IPv4 and IPv6 alike, as binary records
// (xinpcb_n, xsocket_n, xtcpcb_n), each carrying its length and kind, so
// fields xnu appends move none of those read here. That needs no cgo and no child process, and unlike
// parsing `netstat -anv`, whose columns have changed across releases, it
// gives each socket's last user (so_last_pid), which is how this
// process's own sockets are recognised and how Owners names a process
// (its short name from kern.proc.pid). macOS has no network namespaces:
// HostNetns is always true. The parser is tested on fixtures laid out
// from xnu's headers (testdata/pcblist_n.md says how faithful they are).
//
// Elsewhere every function returns ErrUnsupported.
package listeners
