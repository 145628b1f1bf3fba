package listeners

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// tables are the four socket tables, as /proc/net names them.
var tables = []struct {
	file   string
	family uint8
	proto  string
}{
	{"tcp", afInet, TCP},
	{"tcp6", afInet6, TCP},
	{"udp", afInet, UDP},
	{"udp6", afInet6, UDP},
}

func bound(ctx context.Context, within addrSet, v via) ([]Socket, error) {
	fd := -1
	if v != viaProc {
		var err error
		if fd, err = openDiag(ctx); err != nil && v == viaDiag {
			return nil, tableErr("sock_diag", err)
		}
	}
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}()
	var socks []Socket
	var buf []byte
	if fd >= 0 {
		buf = make([]byte, diagBufLen)
	}
	for i, t := range tables {
		var got []Socket
		add := func(s Socket) {
			if within.contains(s.Addr.Addr()) {
				got = append(got, s)
			}
		}
		err := errNoDiag
		if fd >= 0 {
			err = diagDump(ctx, fd, t.family, t.proto, within.prefixes, uint32(i+1), buf, add)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil && v == viaDiag {
			return nil, tableErr("sock_diag "+t.file, err)
		}
		if err != nil {
			// Netlink refused (a sandbox, a kernel without the diag
			// module), or failed mid-dump: /proc/net has the same
			// tables, slower, and serves the rest of this call.
			if fd >= 0 {
				unix.Close(fd)
				fd = -1
			}
			got = got[:0]
			if err := readProcNet(t.file, t.proto, add); err != nil {
				return nil, err
			}
		}
		socks = append(socks, got...)
	}
	socks = keep(socks, within, nil)
	if len(socks) == 0 {
		return nil, nil // none to tell from this process's own
	}
	own, err := ownInodes(socks)
	if err != nil {
		return nil, tableErr("own sockets", err)
	}
	return keep(socks, within, own), nil
}

var errNoDiag = errors.New("sock_diag not used")

// openDiag is diagSocket; tests refuse it to see the fallback.
var openDiag = diagSocket

func readProcNet(file, proto string, fn func(Socket)) error {
	data, err := os.ReadFile("/proc/net/" + file)
	if errors.Is(err, fs.ErrNotExist) && strings.HasSuffix(file, "6") {
		return nil // IPv6 disabled: no such sockets
	}
	if err != nil {
		return tableErr(file, err)
	}
	if err := parseProcNet(data, proto, binary.NativeEndian, fn); err != nil {
		return tableErr("/proc/net/"+file, err)
	}
	return nil
}

// ownInodes is the set of the inodes of socks that are open in this
// process now. Its own descriptors are looked at with fstat, which needs
// no walk of /proc/self/fd/N's link.
func ownInodes(socks []Socket) (map[uint64]bool, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	want := make(map[uint64]bool, len(socks))
	for _, s := range socks {
		want[s.Inode] = true
	}
	own := make(map[uint64]bool)
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		var st unix.Stat_t
		if err != nil || unix.Fstat(fd, &st) != nil {
			continue // closed since the directory was read
		}
		if st.Mode&unix.S_IFMT == unix.S_IFSOCK && want[st.Ino] {
			own[st.Ino] = true
		}
	}
	return own, nil
}

// socketInodes reads the socket inodes of the descriptors in dir, keeping
// only those in want when want is not nil.
func socketInodes(dir string, want map[uint64]bool) (map[uint64]bool, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	inodes := make(map[uint64]bool)
	for _, e := range ents {
		link, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue // closed since the directory was read
		}
		if ino, ok := socketInode(link); ok && (want == nil || want[ino]) {
			inodes[ino] = true
		}
	}
	return inodes, nil
}

// socketInode parses the "socket:[12345]" that a socket's descriptor
// links to.
func socketInode(link string) (uint64, bool) {
	s, ok := strings.CutPrefix(link, "socket:[")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

func owners(socks []Socket) (map[uint64]Process, error) {
	want := make(map[uint64]bool, len(socks))
	for _, s := range socks {
		want[s.Inode] = true
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids) // the lowest PID names a socket that several share
	found := make(map[uint64]Process)
	for _, pid := range pids {
		dir := "/proc/" + strconv.Itoa(pid)
		inodes, err := socketInodes(dir+"/fd", want)
		if err != nil || len(inodes) == 0 {
			continue // another user's process, or gone
		}
		comm, _ := os.ReadFile(dir + "/comm")
		p := Process{PID: pid, Command: string(bytes.TrimSuffix(comm, []byte("\n")))}
		for ino := range inodes {
			if _, ok := found[ino]; !ok {
				found[ino] = p
			}
		}
	}
	return found, nil
}
