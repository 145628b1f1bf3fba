package listeners

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// The sock_diag wire format (linux/netlink.h, linux/inet_diag.h). Integers
// are in the host's order except ports and addresses, which are in network
// order. These are the kernel's ABI, stable since 3.3.
const (
	nlmsgHdrLen   = 16
	nlmsgError    = 2
	nlmsgDone     = 3
	sockDiagByFam = 20 // SOCK_DIAG_BY_FAMILY
	nlmFRequest   = 0x1
	nlmFDump      = 0x300 // NLM_F_ROOT | NLM_F_MATCH

	diagReqLen      = 56 // struct inet_diag_req_v2
	diagMsgLen      = 72 // struct inet_diag_msg
	diagReqBytecode = 1  // INET_DIAG_REQ_BYTECODE

	bcJmp   = 1 // INET_DIAG_BC_JMP
	bcSCond = 7 // INET_DIAG_BC_S_COND

	afInet  = 2
	afInet6 = 10

	tcpListen = 10 // TCP_LISTEN, the state number (not /proc's hex)

	// maxConds bounds the kernel filter; more prefixes than this are
	// filtered here instead (the filter only saves copying).
	maxConds = 512
)

var errDiagMsg = errors.New("malformed sock_diag message")

// diagFilter compiles "the local address lies in one of within" for a dump
// of family: a chain of S_COND ops, each but the last followed by a JMP to
// the end (accept). A failed condition falls through to the next; the last
// one's failure jumps past the end (reject). The kernel's AF_INET
// condition also matches v4-mapped addresses of AF_INET6 sockets, so an
// AF_INET6 dump carries the IPv4 prefixes too. It returns nil (no kernel
// filter) for too many prefixes, and ok false when no socket of family can
// match.
func diagFilter(within []netip.Prefix, family uint8, order binary.ByteOrder) (bc []byte, ok bool) {
	var conds [][]byte
	for _, p := range within {
		if p.Addr().Is6() && family == afInet {
			continue
		}
		conds = append(conds, hostCond(p, order))
	}
	switch {
	case len(conds) == 0:
		return nil, false
	case len(conds) > maxConds:
		return nil, true
	}
	total := 0
	for _, c := range conds {
		total += len(c) + 4
	}
	total -= 4 // no JMP after the last
	bc = make([]byte, 0, total)
	for i, c := range conds {
		bc = append(bc, c...)
		op := bc[len(bc)-len(c):]
		op[1] = byte(len(c))                      // yes: the next op (a JMP, or the end)
		order.PutUint16(op[2:], uint16(len(c)+4)) // no: over the JMP (past the end, for the last)
		if i < len(conds)-1 {
			jmp := make([]byte, 4)
			jmp[0], jmp[1] = bcJmp, 4
			order.PutUint16(jmp[2:], uint16(total-len(bc)))
			bc = append(bc, jmp...)
		}
	}
	return bc, true
}

// hostCond is one S_COND op with its inet_diag_hostcond: any port.
func hostCond(p netip.Prefix, order binary.ByteOrder) []byte {
	addr := p.Addr().AsSlice()
	c := make([]byte, 4+8+len(addr))
	c[0] = bcSCond
	c[4] = afInet
	if len(addr) == 16 {
		c[4] = afInet6
	}
	c[5] = byte(p.Bits())
	order.PutUint32(c[8:], ^uint32(0)) // port -1: any
	copy(c[12:], addr)
	return c
}

// parseDiag parses one buffer of dump replies, calling fn for each
// socket. done is true once the dump's NLMSG_DONE is seen; a kernel
// error ends the dump with that errno.
func parseDiag(buf []byte, proto string, seq uint32, order binary.ByteOrder, fn func(Socket)) (done bool, err error) {
	for len(buf) >= nlmsgHdrLen {
		n := int(order.Uint32(buf[0:]))
		typ := order.Uint16(buf[4:])
		if n < nlmsgHdrLen || n > len(buf) {
			return false, errDiagMsg
		}
		if order.Uint32(buf[8:]) != seq {
			return false, fmt.Errorf("%w: sequence %d, want %d", errDiagMsg, order.Uint32(buf[8:]), seq)
		}
		body := buf[nlmsgHdrLen:n]
		switch typ {
		case nlmsgDone, nlmsgError:
			if len(body) < 4 {
				return false, errDiagMsg
			}
			if e := int32(order.Uint32(body)); e < 0 {
				return true, syscall.Errno(-e)
			}
			if typ == nlmsgDone {
				return true, nil
			}
		case sockDiagByFam:
			s, ok, err := parseDiagMsg(body, proto, order)
			if err != nil {
				return false, err
			}
			if ok {
				fn(s)
			}
		}
		buf = buf[min((n+3)&^3, len(buf)):]
	}
	if len(buf) != 0 {
		return false, errDiagMsg
	}
	return false, nil
}

// parseDiagMsg reads one struct inet_diag_msg.
func parseDiagMsg(b []byte, proto string, order binary.ByteOrder) (Socket, bool, error) {
	if len(b) < diagMsgLen {
		return Socket{}, false, errDiagMsg
	}
	family, state := b[0], b[1]
	port := binary.BigEndian.Uint16(b[4:])
	var a netip.Addr
	switch family {
	case afInet:
		a = netip.AddrFrom4([4]byte(b[8:12]))
	case afInet6:
		a = netip.AddrFrom16([16]byte(b[8:24])).Unmap()
	default:
		return Socket{}, false, errDiagMsg
	}
	if (proto == TCP && state != tcpListen) || port == 0 {
		return Socket{}, false, nil
	}
	inode := uint64(order.Uint32(b[68:]))
	return Socket{Addr: netip.AddrPortFrom(a, port), Proto: proto, Inode: inode}, true, nil
}
