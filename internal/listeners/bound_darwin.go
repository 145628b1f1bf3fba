package listeners

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// pcblists are the tables of every TCP and UDP socket, IPv4 and IPv6 alike
// (xnu keeps both families in one list per protocol).
var pcblists = []struct{ name, proto string }{
	{"net.inet.tcp.pcblist_n", TCP},
	{"net.inet.udp.pcblist_n", UDP},
}

func bound(ctx context.Context, within addrSet, _ via) ([]Socket, error) {
	var socks []Socket
	own := make(map[uint64]bool)
	self := os.Getpid()
	for _, t := range pcblists {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		buf, err := pcblist(t.name)
		if err != nil {
			return nil, tableErr(t.name, err)
		}
		err = parsePCBList(buf, t.proto, binary.NativeEndian, func(s Socket) {
			if s.pid == self {
				own[s.Inode] = true // this process used it last: one of ours
			}
			if within.contains(s.Addr.Addr()) {
				socks = append(socks, s)
			}
		})
		if err != nil {
			return nil, tableErr(t.name, err)
		}
	}
	return keep(socks, within, own), nil
}

// pcblist reads one table, again if it grew past the kernel's estimate
// between sizing and reading (ENOMEM).
func pcblist(name string) ([]byte, error) {
	var err error
	for range 4 {
		var buf []byte
		if buf, err = unix.SysctlRaw(name); !errors.Is(err, unix.ENOMEM) {
			return buf, err
		}
	}
	return nil, err
}

// owners names each socket's process by the PID its table records (the
// last process that used it): macOS has no per-process descriptor walk
// without libproc, which needs cgo.
func owners(socks []Socket) (map[uint64]Process, error) {
	found := make(map[uint64]Process)
	for _, s := range socks {
		if s.pid <= 0 {
			continue
		}
		p := Process{PID: s.pid}
		if kp, err := unix.SysctlKinfoProc("kern.proc.pid", s.pid); err == nil && kp.Proc.P_pid == int32(s.pid) {
			p.Command = string(bytes.TrimRight(kp.Proc.P_comm[:], "\x00"))
		}
		found[s.Inode] = p
	}
	return found, nil
}

// hostNetns: macOS has no network namespaces; every process sees the
// host's sockets.
func hostNetns() (same, known bool, err error) { return true, true, nil }
