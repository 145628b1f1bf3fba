package listeners

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

var vias = []struct {
	name string
	v    via
}{{"auto", viaAuto}, {"sock_diag", viaDiag}, {"proc_net", viaProc}}

func prefixes(t testing.TB, s ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return newSet(out).prefixes
}

func boundVia(t testing.TB, within []netip.Prefix, v via) []string {
	t.Helper()
	socks, err := bound(context.Background(), newSet(within), v)
	if err != nil {
		t.Fatalf("bound(%v, via %d) = %v", within, v, err)
	}
	sortSockets(socks)
	var out []string
	for _, s := range socks {
		out = append(out, s.String())
	}
	return out
}

// unmapped turns "[::ffff:127.0.173.18]:41000" into "127.0.173.18:41000".
func unmapped(t testing.TB, s string) string {
	t.Helper()
	ap := netip.MustParseAddrPort(s)
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
}

func sorted(s ...string) []string { slices.Sort(s); return s }

func TestBoundRealSockets(t *testing.T) {
	h := startHolder(t, strings.Join([]string{
		"tcp 127.0.173.16:0",
		"udp 127.0.173.17:0",
		"tcp6m 127.0.173.18:0",
		"udp6m 127.0.173.19:0",
		"conn 127.0.173.21:0>127.0.173.20:0", // only the listener on .20 holds; .21's end is connected
		"tcp6 [::1]:0",
		"tcp 127.0.174.16:0", // outside the prefixes asked
	}, ","))
	local, server, _ := strings.Cut(h.Addrs[4], ">")
	want := sorted(
		"tcp "+h.Addrs[0], "udp "+h.Addrs[1], "tcp "+unmapped(t, h.Addrs[2]),
		"udp "+unmapped(t, h.Addrs[3]), "tcp "+server, "tcp "+h.Addrs[5])
	slices.SortFunc(want, func(a, b string) int {
		return netip.MustParseAddrPort(strings.Fields(a)[1]).Compare(netip.MustParseAddrPort(strings.Fields(b)[1]))
	})
	within := prefixes(t, "127.0.173.0/24", "::1/128")
	for _, tt := range vias {
		got := boundVia(t, within, tt.v)
		got = slices.DeleteFunc(got, func(s string) bool { // other programs' [::1] listeners
			return strings.Contains(s, "[::1]") && s != "tcp "+h.Addrs[5]
		})
		if !slices.Equal(got, want) {
			t.Errorf("via %s: Bound = %q, want %q", tt.name, got, want)
		}
		if slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, local) }) {
			t.Errorf("via %s: the connected end %s is reported", tt.name, local)
		}
	}
	h.stop()
	for _, tt := range vias {
		if got := boundVia(t, prefixes(t, "127.0.173.0/24"), tt.v); len(got) != 0 {
			t.Errorf("via %s: after close, Bound = %q, want none", tt.name, got)
		}
	}
}

func TestBoundWildcards(t *testing.T) {
	h := startHolder(t, "tcp4 0.0.0.0:0,udp6 [::]:0")
	for _, tt := range vias {
		got := boundVia(t, Wildcards, tt.v)
		for _, w := range []string{"tcp 0.0.0.0:" + port(h.Addrs[0]), "udp [::]:" + port(h.Addrs[1])} {
			if !slices.Contains(got, w) {
				t.Errorf("via %s: Bound(Wildcards) = %q, want it to hold %q", tt.name, got, w)
			}
		}
		if got := boundVia(t, prefixes(t, "127.0.0.0/8"), tt.v); slices.ContainsFunc(got, func(s string) bool {
			return strings.HasSuffix(s, ":"+port(h.Addrs[0])) || strings.HasSuffix(s, ":"+port(h.Addrs[1]))
		}) {
			t.Errorf("via %s: Bound(127.0.0.0/8) = %q, holds a wildcard socket", tt.name, got)
		}
	}
}

func port(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

func TestBoundExcludesOwnSockets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.173.40:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", "127.0.173.41:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	mine := sorted("tcp "+ln.Addr().String(), "udp "+pc.LocalAddr().String())
	for _, tt := range vias {
		if got := boundVia(t, prefixes(t, "127.0.173.40/31"), tt.v); len(got) != 0 {
			t.Errorf("via %s: Bound = %q, want none of this process's sockets", tt.name, got)
		}
	}
	// Another process sees them: it is the exclusion that hid them.
	r := runQuery(t, os.Args[0], "127.0.173.40/31", "", nil)
	if !slices.Equal(sorted(r.Sockets...), mine) || r.Err != "" {
		t.Errorf("another process: Bound = %q (%s), want %q", r.Sockets, r.Err, mine)
	}
}

func TestOwners(t *testing.T) {
	h := startHolder(t, "tcp 127.0.173.44:0,udp 127.0.173.45:0")
	socks, err := Bound(context.Background(), prefixes(t, "127.0.173.44/31"))
	if err != nil || len(socks) != 2 {
		t.Fatalf("Bound = %v, %v, want two sockets", socks, err)
	}
	own, err := Owners(socks)
	if err != nil {
		t.Fatal(err)
	}
	comm := filepath.Base(os.Args[0])[:min(15, len(filepath.Base(os.Args[0])))]
	for _, s := range socks {
		if p := own[s.Inode]; p.PID != h.cmd.Process.Pid || p.Command != comm {
			t.Errorf("Owners()[%s] = %+v, want PID %d, command %q", s, p, h.cmd.Process.Pid, comm)
		}
	}
}

// TestBoundNonRoot runs Bound as nobody: it still sees root's listener,
// but Owners cannot name root's process, and says nothing rather than
// guessing.
func TestBoundNonRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to nobody")
	}
	h := startHolder(t, "tcp 127.0.173.46:0")
	exe := copyExecutable(t)
	r := runQuery(t, exe, "127.0.173.46/32", "", &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}})
	want := []string{"tcp " + h.Addrs[0]}
	if !slices.Equal(r.Sockets, want) || r.Err != "" {
		t.Errorf("as nobody: Bound = %q (%s), want %q", r.Sockets, r.Err, want)
	}
	if p, ok := r.Owners[want[0]]; ok {
		t.Errorf("as nobody: Owners()[%s] = %+v, want none (root's process)", want[0], p)
	}
	if !r.Same || !r.Known {
		t.Errorf("as nobody in the host's namespace: HostNetns = %v, %v, want true, true", r.Same, r.Known)
	}
}

// copyExecutable copies the test binary where nobody can run it.
func copyExecutable(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "listeners.test")
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestBoundOtherNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	host := startHolder(t, "tcp 127.0.173.50:0")
	r := runQuery(t, os.Args[0], "127.0.173.48/28", "tcp 127.0.173.51:0", &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET})
	if r.Err != "" || len(r.Sockets) != 1 || !strings.HasPrefix(r.Sockets[0], "tcp 127.0.173.51:") {
		t.Errorf("in a new namespace: Bound = %q (%s), want only that namespace's 127.0.173.51 (not %s)", r.Sockets, r.Err, host.Addrs[0])
	}
	if r.Same || !r.Known {
		t.Errorf("in a new namespace: HostNetns = %v, %v, want false, true", r.Same, r.Known)
	}
	same, known, err := HostNetns()
	if !same || !known || err != nil {
		t.Errorf("HostNetns() = %v, %v, %v, want true, true (the test runs in the host's namespace)", same, known, err)
	}
}

// TestDiagKernelFilter reads sock_diag without the filtering done here,
// so what comes back is what the kernel's bytecode let through.
func TestDiagKernelFilter(t *testing.T) {
	h := startHolder(t, "tcp 127.0.173.60:0,tcp 127.0.174.60:0,tcp6m 127.0.173.61:0,tcp6 [::1]:0")
	fd, err := diagSocket(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	tests := []struct {
		family uint8
		within []netip.Prefix
		want   []string
	}{
		{afInet, prefixes(t, "127.0.173.60/32", "127.0.173.62/32"), []string{"tcp " + h.Addrs[0]}},
		{afInet6, prefixes(t, "127.0.173.60/31", "127.0.199.0/24"), []string{"tcp " + unmapped(t, h.Addrs[2])}},
	}
	for i, tt := range tests {
		var got []string
		err := diagDump(context.Background(), fd, tt.family, TCP, tt.within, uint32(i+1), make([]byte, diagBufLen), func(s Socket) { got = append(got, s.String()) })
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("diagDump(family %d, %v) = %q, %v, want %q", tt.family, tt.within, got, err, tt.want)
		}
	}
	bc, _ := diagFilter(prefixes(t, "::1/128"), afInet6, binary.NativeEndian)
	if len(bc) == 0 {
		t.Fatal("no filter for ::1")
	}
}

func TestBoundFallsBackToProcNet(t *testing.T) {
	h := startHolder(t, "tcp 127.0.173.70:0,udp6m 127.0.173.71:0")
	defer func(o func(context.Context) (int, error)) { openDiag = o }(openDiag)
	openDiag = func(context.Context) (int, error) { return -1, unix.EPERM } // as a seccomp sandbox answers
	within := prefixes(t, "127.0.173.70/31")
	want := []string{"tcp " + h.Addrs[0], "udp " + unmapped(t, h.Addrs[1])}
	if got := boundVia(t, within, viaAuto); !slices.Equal(got, want) {
		t.Errorf("netlink refused: Bound = %q, want %q from /proc/net", got, want)
	}
	if _, err := bound(context.Background(), newSet(within), viaDiag); !errors.Is(err, ErrTable) || !errors.Is(err, unix.EPERM) {
		t.Errorf("netlink refused, sock_diag only: bound = %v, want ErrTable wrapping EPERM", err)
	}
}

func TestBoundContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if socks, err := Bound(ctx, prefixes(t, "127.0.0.0/8")); !errors.Is(err, context.Canceled) || socks != nil {
		t.Errorf("Bound(canceled) = %v, %v, want context.Canceled", socks, err)
	}
	if socks, err := Bound(context.Background(), nil); err != nil || socks != nil {
		t.Errorf("Bound(no prefixes) = %v, %v, want nothing", socks, err)
	}
}
