//go:build linux

package confine

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
)

func TestNftCommentOf(t *testing.T) {
	jump := tag{id: 3, jump: true}
	tests := []struct {
		name  string
		udata []byte
		want  string
		ok    bool
	}{
		{"ours", comment(jump), jump.String(), true},
		{"after another TLV", append([]byte{1, 2, 'x', 'y'}, comment(jump)...), jump.String(), true},
		{"no NUL", []byte{0, 2, 'h', 'i'}, "", false},
		{"longer than the data", []byte{0, 9, 'h', 0}, "", false},
		{"empty", nil, "", false},
		{"other types only", []byte{1, 1, 0}, "", false},
	}
	for _, tt := range tests {
		got, ok := commentOf(tt.udata)
		if got != tt.want || ok != tt.ok {
			t.Errorf("commentOf(%s: %v) = %q, %v, want %q, %v", tt.name, tt.udata, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzNftCommentOf(f *testing.F) {
	f.Add(comment(tag{id: 3, index: 1, ofRule: 2}))
	f.Add([]byte{0, 200, 1})
	f.Fuzz(func(t *testing.T, udata []byte) {
		s, ok := commentOf(udata) // must not panic on anything
		if ok && len(s) > len(udata) {
			t.Errorf("commentOf(%v) = %q, longer than its input", udata, s)
		}
	})
}

// nftAttr is one netlink attribute, padded as the kernel pads it.
func nftAttr(typ uint16, v []byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(4+len(v)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestNftLinkKind(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"bridge", nftAttr(1, []byte("bridge\x00")), "bridge"},
		{"after IFLA_INFO_DATA", append(nftAttr(2|0x8000, []byte{1, 2, 3}), nftAttr(1, []byte("veth\x00"))...), "veth"},
		{"nested flag on the kind", nftAttr(1|0x8000, []byte("bridge\x00")), "bridge"},
		{"length past the end", []byte{40, 0, 1, 0, 'b'}, ""},
		{"length below the header", []byte{2, 0, 1, 0}, ""},
		{"no kind", nftAttr(2, []byte{1}), ""},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		if got := linkKind(tt.in); got != tt.want {
			t.Errorf("linkKind(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func FuzzNftLinkKind(f *testing.F) {
	f.Add(nftAttr(1, []byte("bridge\x00")))
	f.Add([]byte{5, 0, 1, 0, 'x', 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if k := linkKind(b); len(k) > len(b) {
			t.Errorf("linkKind(%v) = %q, longer than its input", b, k)
		}
	})
}

func TestNftChainRulesCount(t *testing.T) {
	r := Rules{CgroupID: 9, Level: 1, Alias: netip.MustParseAddr("127.0.0.17"),
		Allow: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.53:53")},
		Deny:  loopbackTargets}
	// reply exemption, 2 per allowed destination, the alias, 2 per prefix
	if got, want := len(chainRules(r)), 1+2*1+1+2*len(loopbackTargets); got != want {
		t.Errorf("len(chainRules(%+v)) = %d, want %d", r, got, want)
	}
}

func TestNftLocalTargets(t *testing.T) {
	if !nftInNetNS(t) {
		return
	}
	nftRun(t, "ip", "link", "add", "nftveth0", "type", "veth", "peer", "name", "nftveth1")
	nftRun(t, "ip", "addr", "add", "192.0.2.5/24", "dev", "nftveth0")
	nftRun(t, "ip", "addr", "add", "2001:db8::5/64", "dev", "nftveth0")
	nftRun(t, "ip", "link", "add", "nftbr1", "type", "bridge")
	nftRun(t, "ip", "addr", "add", "198.51.100.1/24", "dev", "nftbr1")
	nftRun(t, "ip", "addr", "add", "2001:db8:1::1/64", "dev", "nftbr1")
	got, err := LocalTargets()
	if err != nil {
		t.Fatalf("LocalTargets() = %v", err)
	}
	for _, tt := range []struct {
		prefix string
		in     bool
	}{
		{"127.0.0.0/8", true},
		{"::1/128", true},
		{"::ffff:127.0.0.0/104", true},
		{"192.0.2.5/32", true},     // an address of the host
		{"192.0.2.0/24", false},    // but not its subnet: not a bridge
		{"2001:db8::5/128", true},  //
		{"198.51.100.0/24", true},  // a bridge's subnet
		{"198.51.100.1/32", false}, // covered by it
		{"2001:db8:1::/64", true},
		{"127.0.0.1/32", false}, // covered by 127.0.0.0/8
	} {
		if in := slices.Contains(got, netip.MustParsePrefix(tt.prefix)); in != tt.in {
			t.Errorf("LocalTargets() = %v: has %s = %v, want %v", got, tt.prefix, in, tt.in)
		}
	}
}
