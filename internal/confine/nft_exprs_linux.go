//go:build linux

// The expressions of a confinement's rules.

package confine

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// ctDirReply is IP_CT_DIR_REPLY of linux/netfilter/nf_conntrack_common.h.
const ctDirReply = 1

// jumpRule sends the packets of sockets created in the cgroup (or below it)
// to the confinement's chain. The kernel stores the socket's cgroup id in
// the register in host byte order; packets without a full socket (a SYN-ACK
// of a request socket, forwarded traffic) do not match.
func jumpRule(r Rules) []expr.Any {
	id := make([]byte, 8)
	binary.NativeEndian.PutUint64(id, r.CgroupID)
	return []expr.Any{
		&expr.Socket{Key: expr.SocketKeyCgroupv2, Level: r.Level, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: id},
		&expr.Verdict{Kind: expr.VerdictJump, Chain: chainName(r.CgroupID)},
	}
}

// chainRules are the rules of the confinement's chain, in order:
//
//	ct direction reply return                  # answers to someone else's connection
//	ip daddr A tcp dport P return              # each of Allow, TCP and UDP
//	ip daddr ALIAS return
//	ip daddr PREFIX meta l4proto tcp reject with tcp reset   # each of Deny
//	ip daddr PREFIX reject with icmpx port-unreachable
//
// "return" rather than "accept": with nested confinements, the next jump
// in the base chain still judges the packet.
func chainRules(r Rules) [][]expr.Any {
	ret := &expr.Verdict{Kind: expr.VerdictReturn}
	rules := [][]expr.Any{{
		&expr.Ct{Key: expr.CtKeyDIRECTION, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{ctDirReply}},
		ret,
	}}
	for _, ap := range r.Allow {
		host := netip.PrefixFrom(ap.Addr(), ap.Addr().BitLen())
		for _, proto := range []byte{unix.IPPROTO_TCP, unix.IPPROTO_UDP} {
			rules = append(rules, cat(daddrIn(host), l4proto(proto), dport(ap.Port()), ret))
		}
	}
	rules = append(rules, cat(daddrIn(netip.PrefixFrom(r.Alias, r.Alias.BitLen())), ret))
	for _, p := range r.Deny {
		rules = append(rules,
			cat(daddrIn(p), l4proto(unix.IPPROTO_TCP), &expr.Reject{Type: unix.NFT_REJECT_TCP_RST}),
			cat(daddrIn(p), &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH}))
	}
	return rules
}

func cat(parts ...any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		switch p := p.(type) {
		case []expr.Any:
			out = append(out, p...)
		case expr.Any:
			out = append(out, p)
		}
	}
	return out
}

// daddrIn matches packets of p's family whose destination lies in p.
func daddrIn(p netip.Prefix) []expr.Any {
	family, offset := byte(unix.NFPROTO_IPV4), uint32(16) // daddr in the IPv4 header
	if p.Addr().Is6() {
		family, offset = unix.NFPROTO_IPV6, 24
	}
	out := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{family}},
	}
	if p.Bits() == 0 {
		return out
	}
	n := uint32(p.Addr().BitLen() / 8)
	out = append(out, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: n})
	if p.Bits() < p.Addr().BitLen() {
		mask := make([]byte, n)
		for i := range p.Bits() {
			mask[i/8] |= 0x80 >> (i % 8)
		}
		out = append(out, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)})
	}
	return append(out, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Masked().Addr().AsSlice()})
}

func l4proto(proto byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
	}
}

// dport matches the destination port, at the same offset in TCP and UDP.
func dport(port uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)},
	}
}
