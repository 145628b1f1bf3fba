package listeners

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
)

// stateListen is TCP_LISTEN as /proc/net/tcp prints it, in hex.
const stateListen = 0x0A

var errLine = errors.New("malformed line")

// parseProcNet parses a whole /proc/net/{tcp,tcp6,udp,udp6} table,
// calling fn for each TCP listener (state 0A) or bound UDP socket it
// holds. The kernel prints each address as the 32-bit words it stores in
// network order, formatted as integers of the host (order). The first line
// is the header; any other line that does not parse fails the whole table,
// since a table read in part must not pass for an empty one.
func parseProcNet(data []byte, proto string, order binary.ByteOrder, fn func(Socket)) error {
	header := true
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if header {
			header = false
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		s, ok, err := parseProcNetLine(line, proto, order)
		if err != nil {
			return fmt.Errorf("%w %q", err, line)
		}
		if ok {
			fn(s)
		}
	}
	return nil
}

// parseProcNetLine parses one line of the table: ok is false for a socket
// that holds nothing (a TCP socket not listening, a port of 0).
func parseProcNetLine(line []byte, proto string, order binary.ByteOrder) (s Socket, ok bool, err error) {
	var f [10][]byte
	n := 0
	for _, field := range bytes.Fields(line) {
		if n == len(f) {
			break
		}
		f[n] = field
		n++
	}
	if n < len(f) || !bytes.HasSuffix(f[0], []byte(":")) {
		return Socket{}, false, errLine
	}
	addr, err := parseHexAddrPort(f[1], order)
	if err != nil {
		return Socket{}, false, err
	}
	st, err := strconv.ParseUint(string(f[3]), 16, 8)
	if err != nil {
		return Socket{}, false, errLine
	}
	inode, err := strconv.ParseUint(string(f[9]), 10, 64)
	if err != nil {
		return Socket{}, false, errLine
	}
	if proto == TCP && st != stateListen {
		return Socket{}, false, nil
	}
	if addr.Port() == 0 {
		return Socket{}, false, nil
	}
	return Socket{Addr: addr, Proto: proto, Inode: inode}, true, nil
}

// parseHexAddrPort parses "0100007F:1F90" or the 32-digit IPv6 form,
// unmapping a v4-mapped address.
func parseHexAddrPort(b []byte, order binary.ByteOrder) (netip.AddrPort, error) {
	i := bytes.IndexByte(b, ':')
	if i < 0 || (i != 8 && i != 32) || len(b)-i-1 != 4 {
		return netip.AddrPort{}, errLine
	}
	port, err := strconv.ParseUint(string(b[i+1:]), 16, 16)
	if err != nil {
		return netip.AddrPort{}, errLine
	}
	var raw [16]byte
	for w := 0; w < i/8; w++ {
		v, err := strconv.ParseUint(string(b[w*8:w*8+8]), 16, 32)
		if err != nil {
			return netip.AddrPort{}, errLine
		}
		order.PutUint32(raw[w*4:], uint32(v))
	}
	var a netip.Addr
	if i == 8 {
		a = netip.AddrFrom4([4]byte(raw[:4]))
	} else {
		a = netip.AddrFrom16(raw).Unmap()
	}
	return netip.AddrPortFrom(a, uint16(port)), nil
}
