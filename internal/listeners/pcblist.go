package listeners

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// The records of macOS's net.inet.{tcp,udp}.pcblist_n (xnu's
// bsd/netinet/in_pcblist.c, get_pcblist_n): a struct xinpgen, then for
// each socket a run of items, each starting with its length and kind and
// padded to 8 bytes (xinpcb_n, xsocket_n, two xsockbuf_n, xsockstat_n,
// and xtcpcb_n for TCP), then a closing xinpgen. The structures are packed
// to 4 bytes; the offsets below are theirs.
const (
	xinpgenLen = 24

	xsoSocket = 0x001
	xsoInpcb  = 0x010
	xsoTcpcb  = 0x020

	// struct xinpcb_n
	inpLport   = 18 // u_short, network order
	inpVflag   = 44
	inpLaddr   = 64 // union of in_addr_4in6 and in6_addr
	inpMinLen  = inpLaddr + 16
	inpVflagV4 = 0x1 // INP_IPV4
	inpVflagV6 = 0x2 // INP_IPV6

	// struct xsocket_n
	soHandle  = 8  // xso_so, the kernel's socket pointer, permuted
	soLastPID = 68 // so_last_pid
	soMinLen  = soLastPID + 4

	// struct xtcpcb_n
	tcpState   = 36 // t_state
	tcpMinLen  = tcpState + 4
	tcpsListen = 1 // TCPS_LISTEN
)

var errPCB = errors.New("malformed pcblist_n")

// pcbRecord gathers the items of one socket.
type pcbRecord struct {
	inp, so, tcp []byte
}

// parsePCBList parses one pcblist_n buffer of proto, calling fn for each
// TCP listener or bound UDP socket. Items of kinds it does not read are
// skipped; a buffer that ends before the closing xinpgen is an error, as
// a table read in part must not pass for a short one.
func parsePCBList(buf []byte, proto string, order binary.ByteOrder, fn func(Socket)) error {
	if len(buf) < xinpgenLen || order.Uint32(buf) < xinpgenLen || int(order.Uint32(buf)) > len(buf) {
		return errPCB
	}
	off := roundup8(int(order.Uint32(buf)))
	var rec pcbRecord
	for {
		if off+8 > len(buf) {
			return errPCB
		}
		n := int(order.Uint32(buf[off:]))
		if n <= xinpgenLen {
			if off+xinpgenLen > len(buf) {
				return errPCB
			}
			return nil // the closing xinpgen
		}
		if n > len(buf)-off {
			return errPCB
		}
		item := buf[off : off+n]
		switch order.Uint32(item[4:]) {
		case xsoInpcb:
			rec = pcbRecord{inp: item} // a new socket's run starts
		case xsoSocket:
			rec.so = item
		case xsoTcpcb:
			rec.tcp = item
		}
		if rec.inp != nil && rec.so != nil && (proto == UDP || rec.tcp != nil) {
			s, ok, err := rec.socket(proto, order)
			if err != nil {
				return err
			}
			if ok {
				fn(s)
			}
			rec = pcbRecord{}
		}
		off += roundup8(n)
	}
}

// socket reads a complete record: ok is false for one that holds nothing.
func (r pcbRecord) socket(proto string, order binary.ByteOrder) (Socket, bool, error) {
	if len(r.inp) < inpMinLen || len(r.so) < soMinLen || (proto == TCP && len(r.tcp) < tcpMinLen) {
		return Socket{}, false, errPCB
	}
	if proto == TCP && order.Uint32(r.tcp[tcpState:]) != tcpsListen {
		return Socket{}, false, nil
	}
	port := binary.BigEndian.Uint16(r.inp[inpLport:])
	var a netip.Addr
	switch vflag := r.inp[inpVflag]; {
	case vflag&inpVflagV6 != 0:
		a = netip.AddrFrom16([16]byte(r.inp[inpLaddr : inpLaddr+16])).Unmap()
	case vflag&inpVflagV4 != 0:
		a = netip.AddrFrom4([4]byte(r.inp[inpLaddr+12 : inpLaddr+16]))
	default:
		return Socket{}, false, nil // neither: not an IP socket yet
	}
	if port == 0 {
		return Socket{}, false, nil
	}
	s := Socket{
		Addr:  netip.AddrPortFrom(a, port),
		Proto: proto,
		Inode: order.Uint64(r.so[soHandle:]),
		pid:   int(int32(order.Uint32(r.so[soLastPID:]))),
	}
	return s, true, nil
}

func roundup8(n int) int { return (n + 7) &^ 7 }
