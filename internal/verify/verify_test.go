package verify

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"
)

var (
	own   = netip.MustParseAddr("127.0.201.16")
	other = netip.MustParseAddr("127.0.201.17")
	lo    = netip.MustParseAddr("127.0.0.1")
)

func specs() []Spec {
	return []Spec{{"own alias", own}, {"next free alias", other}, {"127.0.0.1", lo}}
}

// only keeps the targets on addr.
func only(ts []Target, addrs ...netip.Addr) []Target {
	return slices.DeleteFunc(slices.Clone(ts), func(t Target) bool { return !slices.Contains(addrs, t.Addr.Addr()) })
}

// The verdict is decided by which canaries received the nonce: a probe
// of every canary is leaky (each other canary named), one of its own
// alias only is isolated, none is cut-off, and one that sends another
// nonce reaches nothing.
func TestVerdicts(t *testing.T) {
	tests := []struct {
		name      string
		probe     func([]Target) []Target
		nonce     func(string) string
		want      string
		wantLeaks int
	}{
		{"every canary", func(ts []Target) []Target { return ts }, nil, Leaky, 2},
		{"its own alias", func(ts []Target) []Target { return only(ts, own) }, nil, Isolated, 0},
		{"another alias only", func(ts []Target) []Target { return only(ts, other) }, nil, Leaky, 1},
		{"nothing", func([]Target) []Target { return nil }, nil, CutOff, 0},
		{"another nonce", func(ts []Target) []Target { return ts }, func(string) string { return NewNonce() }, CutOff, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nonce := NewNonce()
			c := Open(specs(), nonce)
			if len(c.Skipped()) != 0 {
				t.Fatalf("Open: skipped %v", c.Skipped())
			}
			sent := nonce
			if tt.nonce != nil {
				sent = tt.nonce(nonce)
			}
			for _, a := range Probe(context.Background(), sent, netip.Addr{}, tt.probe(c.Targets()), time.Second) {
				if a.Err != nil {
					t.Errorf("Probe %s: %v", a.Target, a.Err)
				}
			}
			got, leaks := Verdict(c.Close(300*time.Millisecond), own)
			if got != tt.want || len(leaks) != tt.wantLeaks {
				t.Errorf("Verdict = %q %q, want %q with %d leaks", got, leaks, tt.want, tt.wantLeaks)
			}
		})
	}
}

// A host process that connects to a canary during a verify, without the
// nonce, does not make the bottle leaky; it is counted as stray.
func TestStrayConnectionsDoNotCount(t *testing.T) {
	nonce := NewNonce()
	c := Open(specs(), nonce)
	for _, tg := range c.Targets() {
		if tg.Addr.Addr() == own {
			continue
		}
		conn, err := net.Dial(tg.Proto, tg.Addr.String())
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte("GET / HTTP/1.0\r\n\r\n" + nonce)) // the nonce alone, without the greeting, is not the probe
		conn.Close()
	}
	Probe(context.Background(), nonce, netip.Addr{}, only(c.Targets(), own), time.Second)
	rs := c.Close(300 * time.Millisecond)
	if got, leaks := Verdict(rs, own); got != Isolated {
		t.Errorf("Verdict with stray clients = %q %q, want %q", got, leaks, Isolated)
	}
	for _, r := range rs {
		if r.Addr != own && r.Stray != 2 {
			t.Errorf("canary %s: Stray = %d, want 2 (one TCP, one UDP)", r.Name, r.Stray)
		}
	}
}

// A canary on an address the host does not have is skipped, not fatal.
func TestOpenSkipsAddressesItCannotBind(t *testing.T) {
	c := Open([]Spec{{"own alias", own}, {"not ours", netip.MustParseAddr("192.0.2.1")}}, NewNonce())
	defer c.Close(0)
	if s := c.Skipped(); len(s) != 1 || s[0].Spec.Name != "not ours" {
		t.Errorf("Skipped() = %v, want the one on 192.0.2.1", s)
	}
	if n := len(c.Targets()); n != 2 {
		t.Errorf("len(Targets()) = %d, want 2", n)
	}
}

// --via replaces only loopback destinations.
func TestVia(t *testing.T) {
	via := netip.MustParseAddr("10.0.2.2")
	tests := []struct {
		target string
		via    netip.Addr
		want   string
	}{
		{"tcp:127.0.0.16:4000", via, "10.0.2.2:4000"},
		{"udp:[::1]:4000", via, "10.0.2.2:4000"},
		{"tcp:172.17.0.1:4000", via, "172.17.0.1:4000"},
		{"tcp:127.0.0.16:4000", netip.Addr{}, "127.0.0.16:4000"},
	}
	for _, tt := range tests {
		tg, err := ParseTarget(tt.target)
		if err != nil {
			t.Fatal(err)
		}
		if got := Via(tg, tt.via).String(); got != tt.want {
			t.Errorf("Via(%s, %v) = %s, want %s", tt.target, tt.via, got, tt.want)
		}
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"tcp:127.0.0.16:4000", "tcp:127.0.0.16:4000", true},
		{"udp:[::1]:53", "udp:[::1]:53", true},
		{"udp:[::ffff:127.0.0.1]:53", "udp:127.0.0.1:53", true},
		{"sctp:127.0.0.1:1", "", false},
		{"tcp:127.0.0.1:0", "", false},
		{"tcp:127.0.0.1", "", false},
		{"tcp:[fe80::1%eth0]:80", "", false},
		{"127.0.0.1:80", "", false},
	}
	for _, tt := range tests {
		got, err := ParseTarget(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got.String() != tt.want) {
			t.Errorf("ParseTarget(%q) = %v, %v, want %q (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzParseTarget(f *testing.F) {
	f.Add("tcp:127.0.0.16:4000")
	f.Add("udp:[::1]:53")
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseTarget(s)
		if err != nil {
			return
		}
		again, err := ParseTarget(tg.String())
		if err != nil || again != tg {
			t.Errorf("ParseTarget(%q) = %v; its String %q parses as %v, %v", s, tg, tg.String(), again, err)
		}
	})
}

// Every canary listens on one port where it can, so that a probe sent
// through a gateway (--via) lands on whichever host address the gateway
// leads to.
func TestCanariesShareOnePort(t *testing.T) {
	c := Open(specs(), NewNonce())
	defer c.Close(0)
	ts := c.Targets()
	for _, tg := range ts {
		if tg.Addr.Port() != ts[0].Addr.Port() {
			t.Errorf("Targets() = %v, want one port for all", ts)
			break
		}
	}
}
