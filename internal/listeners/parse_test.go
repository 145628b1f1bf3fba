package listeners

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// collect returns the sockets fn reports, as "proto addr:port" strings.
func collect(t *testing.T, parse func(func(Socket)) error) []string {
	t.Helper()
	var got []string
	if err := parse(func(s Socket) { got = append(got, s.String()) }); err != nil {
		t.Fatalf("parse: %v", err)
	}
	slices.Sort(got)
	return got
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseProcNet(t *testing.T) {
	tests := []struct {
		file, proto string
		want        []string
	}{
		// The two ESTABLISHED ends of the connection are absent.
		{"proc_net_tcp", TCP, []string{"tcp 0.0.0.0:18083", "tcp 127.0.0.1:44889", "tcp 127.0.173.16:18080", "tcp 127.71.212.72:18101"}},
		{"proc_net_tcp6", TCP, []string{"tcp 127.0.173.17:18081", "tcp [::1]:18082"}},
		// A connected UDP socket holds its (autobound) local address.
		{"proc_net_udp", UDP, []string{"udp 127.0.0.1:42812", "udp 127.0.173.19:18085"}},
		{"proc_net_udp6", UDP, []string{"udp 127.0.173.20:18086", "udp [::]:18087"}},
	}
	for _, tt := range tests {
		data := readFixture(t, tt.file)
		got := collect(t, func(fn func(Socket)) error { return parseProcNet(data, tt.proto, binary.LittleEndian, fn) })
		if !slices.Equal(got, tt.want) {
			t.Errorf("parseProcNet(%s) = %q, want %q", tt.file, got, tt.want)
		}
	}
}

func TestParseProcNetLine(t *testing.T) {
	const rest = " 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0"
	tests := []struct {
		line  string
		order binary.ByteOrder
		want  string // "" for a socket that holds nothing
		bad   bool
	}{
		{"   0: 10AD007F:46A0" + rest, binary.LittleEndian, "tcp 127.0.173.16:18080", false},
		{"   0: 7F00AD10:46A0" + rest, binary.BigEndian, "tcp 127.0.173.16:18080", false},
		{"   0: 0000000000000000FFFF000010AD007F:46A0" + rest, binary.LittleEndian, "tcp 127.0.173.16:18080", false},
		{"   0: 00000000000000000000FFFF7F00AD10:46A0" + rest, binary.BigEndian, "tcp 127.0.173.16:18080", false},
		{"   0: 10AD007F:0000" + rest, binary.LittleEndian, "", false},
		{"   0: 10AD007F:46A0 00000000:0000 01" + rest[17:], binary.LittleEndian, "", false},
		{"   0: 10AD007F:46A0 00000000:0000", binary.LittleEndian, "", true},
		{"   0: 10AD007:46A0" + rest, binary.LittleEndian, "", true},
		{"   0: 10AD007F:46A" + rest, binary.LittleEndian, "", true},
		{"   0: 10AD0G7F:46A0" + rest, binary.LittleEndian, "", true},
		{"   0 10AD007F:46A0" + rest, binary.LittleEndian, "", true},
		{"   0: 10AD007F:46A0 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 x", binary.LittleEndian, "", true},
	}
	for _, tt := range tests {
		s, ok, err := parseProcNetLine([]byte(tt.line), TCP, tt.order)
		got := ""
		if ok {
			got = s.String()
		}
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("parseProcNetLine(%q) = %q, %v, want %q, error %v", tt.line, got, err, tt.want, tt.bad)
		}
		if ok && s.Inode != 4242 {
			t.Errorf("parseProcNetLine(%q).Inode = %d, want 4242", tt.line, s.Inode)
		}
	}
}

func TestParseProcNetGarbled(t *testing.T) {
	data := readFixture(t, "proc_net_tcp")
	last := bytes.LastIndexByte(data[:len(data)-1], '\n') + 1
	data = append(data[:last+40:last+40], '\n') // the last line cut short
	if err := parseProcNet(data, TCP, binary.LittleEndian, func(Socket) {}); err == nil {
		t.Errorf("parseProcNet(a cut line) = nil, want an error")
	}
}

func TestParsePCBList(t *testing.T) {
	tests := []struct {
		file, proto string
		want        []string
		pids        map[string]int
	}{
		{"pcblist_n_tcp.bin", TCP,
			[]string{"tcp 127.0.173.16:18080", "tcp 127.0.173.17:18081", "tcp [::1]:18082", "tcp [::]:18083"},
			map[string]int{"tcp 127.0.173.16:18080": 501, "tcp 127.0.173.17:18081": 777, "tcp [::]:18083": 88}},
		{"pcblist_n_udp.bin", UDP,
			[]string{"udp 127.0.0.1:42812", "udp 127.0.173.19:18085", "udp 127.0.173.20:18086", "udp [::]:18087", "udp [fe80::1]:5353"},
			map[string]int{"udp 127.0.173.20:18086": 777, "udp [fe80::1]:5353": 230}},
	}
	for _, tt := range tests {
		data := readFixture(t, tt.file)
		handles := map[uint64]bool{}
		got := collect(t, func(fn func(Socket)) error {
			return parsePCBList(data, tt.proto, binary.LittleEndian, func(s Socket) {
				if want, ok := tt.pids[s.String()]; ok && s.pid != want {
					t.Errorf("parsePCBList(%s): %s pid %d, want %d", tt.file, s, s.pid, want)
				}
				if handles[s.Inode] || s.Inode>>32 != 0x9c1e5a7d {
					t.Errorf("parsePCBList(%s): %s handle %#x repeated or not the fixture's", tt.file, s, s.Inode)
				}
				handles[s.Inode] = true
				fn(s)
			})
		})
		if !slices.Equal(got, tt.want) {
			t.Errorf("parsePCBList(%s) = %q, want %q", tt.file, got, tt.want)
		}
	}
}

func TestParsePCBListTruncated(t *testing.T) {
	data := readFixture(t, "pcblist_n_tcp.bin")
	for _, n := range []int{0, 8, 24, 100, len(data) / 2, len(data) - 24, len(data) - 1} {
		if err := parsePCBList(data[:n], TCP, binary.LittleEndian, func(Socket) {}); err == nil {
			t.Errorf("parsePCBList(first %d of %d bytes) = nil, want an error", n, len(data))
		}
	}
}
