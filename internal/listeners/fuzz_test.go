package listeners

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// The parsers must never panic, and whatever they report must be a socket
// that can hold something: a valid address, a port, a known protocol.
func checkReported(t *testing.T, s Socket, proto string) {
	t.Helper()
	if !s.Addr.Addr().IsValid() || s.Addr.Port() == 0 || s.Proto != proto || s.Addr.Addr().Is4In6() {
		t.Fatalf("reported %+v for %s", s, proto)
	}
}

func FuzzParseProcNet(f *testing.F) {
	for _, name := range []string{"proc_net_tcp", "proc_net_tcp6", "proc_net_udp", "proc_net_udp6"} {
		data, err := readFixtureF(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, true)
	}
	f.Add([]byte("hdr\n   0: 10AD007F:46A0 00000000:0000 0A 0:0 0:0 0 0 0 1\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, tcp bool) {
		proto := UDP
		if tcp {
			proto = TCP
		}
		_ = parseProcNet(data, proto, binary.LittleEndian, func(s Socket) { checkReported(t, s, proto) })
	})
}

func FuzzParsePCBList(f *testing.F) {
	for _, name := range []string{"pcblist_n_tcp.bin", "pcblist_n_udp.bin"} {
		data, err := readFixtureF(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, name == "pcblist_n_tcp.bin")
	}
	f.Fuzz(func(t *testing.T, data []byte, tcp bool) {
		proto := UDP
		if tcp {
			proto = TCP
		}
		_ = parsePCBList(data, proto, binary.LittleEndian, func(s Socket) { checkReported(t, s, proto) })
	})
}

func FuzzParseDiag(f *testing.F) {
	f.Add(diagReply(1, diagMsg(afInet, tcpListen, netip.MustParseAddrPort("127.0.173.16:18080"), 7), doneMsg(1, 0)), uint32(1))
	f.Add(diagReply(2, diagMsg(afInet6, 7, netip.MustParseAddrPort("[::ffff:127.0.173.17]:53"), 8)), uint32(2))
	f.Add(diagReply(3, doneMsg(3, -1)), uint32(3))
	f.Fuzz(func(t *testing.T, data []byte, seq uint32) {
		for _, proto := range []string{TCP, UDP} {
			_, _ = parseDiag(data, proto, seq, binary.LittleEndian, func(s Socket) { checkReported(t, s, proto) })
		}
	})
}
