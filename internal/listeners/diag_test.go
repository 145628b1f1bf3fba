package listeners

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

func readFixtureF(name string) ([]byte, error) { return os.ReadFile(filepath.Join("testdata", name)) }

// diagMsg builds one SOCK_DIAG_BY_FAMILY reply body as the kernel does.
func diagMsg(family, state uint8, ap netip.AddrPort, inode uint32) []byte {
	b := make([]byte, diagMsgLen+8) // an attribute's worth of trailing bytes
	b[0], b[1] = family, state
	binary.BigEndian.PutUint16(b[4:], ap.Port())
	a := ap.Addr().AsSlice()
	copy(b[8:], a)
	binary.LittleEndian.PutUint32(b[68:], inode)
	return append(hdr(uint32(nlmsgHdrLen+len(b)), sockDiagByFam), b...)
}

func doneMsg(seq uint32, errno int32) []byte {
	b := binary.LittleEndian.AppendUint32(hdr(nlmsgHdrLen+4, nlmsgDone), uint32(errno))
	return b
}

func hdr(n uint32, typ uint16) []byte {
	b := make([]byte, nlmsgHdrLen)
	binary.LittleEndian.PutUint32(b, n)
	binary.LittleEndian.PutUint16(b[4:], typ)
	return b
}

// diagReply concatenates messages and stamps them with seq.
func diagReply(seq uint32, msgs ...[]byte) []byte {
	var out []byte
	for _, m := range msgs {
		binary.LittleEndian.PutUint32(m[8:], seq)
		out = append(out, m...)
	}
	return out
}

func TestParseDiag(t *testing.T) {
	buf := diagReply(5,
		diagMsg(afInet, tcpListen, netip.MustParseAddrPort("127.0.173.16:18080"), 11),
		diagMsg(afInet6, tcpListen, netip.MustParseAddrPort("[::ffff:127.0.173.17]:18081"), 12),
		diagMsg(afInet6, tcpListen, netip.MustParseAddrPort("[::1]:18082"), 13),
		diagMsg(afInet, 1, netip.MustParseAddrPort("127.0.173.18:18083"), 14), // ESTABLISHED
		doneMsg(5, 0))
	var got []string
	done, err := parseDiag(buf, TCP, 5, binary.LittleEndian, func(s Socket) { got = append(got, s.String()) })
	want := []string{"tcp 127.0.173.16:18080", "tcp 127.0.173.17:18081", "tcp [::1]:18082"}
	if !done || err != nil || !slices.Equal(got, want) {
		t.Errorf("parseDiag = %q, %v, %v, want %q, done", got, done, err, want)
	}
	if _, err := parseDiag(buf, TCP, 6, binary.LittleEndian, func(Socket) {}); err == nil {
		t.Errorf("parseDiag(sequence 5, want 6) = nil error, want one")
	}
	if _, err := parseDiag(buf[:len(buf)-3], TCP, 5, binary.LittleEndian, func(Socket) {}); err == nil {
		t.Errorf("parseDiag(cut short) = nil error, want one")
	}
	done, err = parseDiag(diagReply(7, doneMsg(7, -int32(syscall.EPERM))), TCP, 7, binary.LittleEndian, func(Socket) {})
	if !done || !errors.Is(err, syscall.EPERM) {
		t.Errorf("parseDiag(DONE with -EPERM) = %v, %v, want done, EPERM", done, err)
	}
}

// runBC interprets a filter as inet_diag_bc_run does (net/ipv4/inet_diag.c)
// for the S_COND and JMP ops diagFilter emits, after the checks
// inet_diag_bc_audit makes of them, for a socket of family bound on a.
func runBC(t *testing.T, bc []byte, family uint8, a netip.Addr) bool {
	t.Helper()
	for off := 0; off < len(bc); { // audit: the yes chain must end exactly at the end
		yes, no, rest := int(bc[off+1]), int(binary.LittleEndian.Uint16(bc[off+2:])), len(bc)-off
		if yes < 4 || yes&3 != 0 || no < 4 || no&3 != 0 || yes > rest || no > rest+4 {
			t.Fatalf("op at %d: yes %d, no %d with %d bytes left", off, yes, no, rest)
		}
		off += yes
	}
	rem, off := len(bc), 0
	for rem > 0 {
		match := false
		switch bc[off] {
		case bcSCond:
			match = condMatch(bc[off:], family, a)
		case bcJmp:
		default:
			t.Fatalf("op %d at %d", bc[off], off)
		}
		step := int(binary.LittleEndian.Uint16(bc[off+2:]))
		if match {
			step = int(bc[off+1])
		}
		rem -= step
		off += step
	}
	return rem == 0
}

// condMatch is the kernel's S_COND test: the families must agree, except
// that an AF_INET condition also matches a v4-mapped AF_INET6 socket.
func condMatch(op []byte, family uint8, a netip.Addr) bool {
	cf, bits := op[4], int(op[5])
	if cf == afInet {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte(op[12:16])), bits)
		return (family == afInet || a.Is4In6()) && p.Contains(a.Unmap())
	}
	p := netip.PrefixFrom(netip.AddrFrom16([16]byte(op[12:28])), bits)
	return family == afInet6 && p.Contains(a)
}

func TestDiagFilter(t *testing.T) {
	set := newSet([]netip.Prefix{
		netip.MustParsePrefix("127.0.173.16/28"),
		netip.MustParsePrefix("127.0.174.9/32"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("::ffff:127.0.175.0/120"), // a mapped prefix, unmapped by newSet
	})
	within := set.prefixes
	tests := []struct {
		family uint8
		addr   string
		want   bool
	}{
		{afInet, "127.0.173.16", true}, {afInet, "127.0.173.31", true}, {afInet, "127.0.173.32", false},
		{afInet, "127.0.174.9", true}, {afInet, "127.0.174.10", false}, {afInet, "127.0.175.200", true},
		{afInet, "0.0.0.0", false}, {afInet6, "::ffff:127.0.173.20", true}, {afInet6, "::ffff:127.0.174.9", true},
		{afInet6, "::ffff:127.0.176.1", false}, {afInet6, "::1", true}, {afInet6, "::2", false}, {afInet6, "::", false},
	}
	for _, tt := range tests {
		bc, ok := diagFilter(within, tt.family, binary.LittleEndian)
		if !ok || bc == nil {
			t.Fatalf("diagFilter(family %d) = %x, %v, want a filter", tt.family, bc, ok)
		}
		a := netip.MustParseAddr(tt.addr)
		if got := runBC(t, bc, tt.family, a); got != tt.want {
			t.Errorf("filter(family %d) on %s = %v, want %v", tt.family, a, got, tt.want)
		}
		if got := set.contains(a); got != tt.want && a.Is4() == (tt.family == afInet) {
			t.Errorf("contains(%s) = %v, want %v", a, got, tt.want)
		}
	}
	if _, ok := diagFilter(newSet([]netip.Prefix{netip.MustParsePrefix("::1/128")}).prefixes, afInet, binary.LittleEndian); ok {
		t.Errorf("diagFilter(IPv6 only, AF_INET) = ok, want no dump")
	}
	many := make([]netip.Prefix, maxConds+1)
	for i := range many {
		many[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 1, byte(i >> 8), byte(i)}), 32)
	}
	if bc, ok := diagFilter(many, afInet, binary.LittleEndian); !ok || bc != nil {
		t.Errorf("diagFilter(%d prefixes) = %d bytes, %v, want no kernel filter", len(many), len(bc), ok)
	}
}
