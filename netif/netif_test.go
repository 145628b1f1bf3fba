package netif

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

func TestParseIfconfigFixtures(t *testing.T) {
	tests := map[string]string{
		"fresh-boot.txt":   "127.0.0.1",
		"some-aliases.txt": "127.0.0.1 127.0.0.16 127.0.0.18",
		"all-aliases.txt":  "127.0.0.1 127.0.0.16 127.0.0.17 127.0.0.18 127.0.0.19 127.0.0.20 127.0.0.21 127.0.0.22 127.0.0.23 127.0.0.24 127.0.0.25 127.0.0.26 127.0.0.27 127.0.0.28 127.0.0.29 127.0.0.30 127.0.0.31",
		// 127.0.0.1600 is no address; the inet6 line's IPv4 is not an inet.
		"odd-spacing.txt": "127.0.0.1 127.0.0.20 127.0.0.21 127.0.0.22",
	}
	for file, want := range tests {
		out, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		if got := setString(parseIfconfig(out)); got != want {
			t.Errorf("parseIfconfig(%s) = %s, want %s", file, got, want)
		}
	}
}

func TestParseIfconfigExactMatch(t *testing.T) {
	got := parseIfconfig([]byte("\tinet 127.0.0.16 netmask 0xffffffff\n"))
	if got[netip.MustParseAddr("127.0.0.1")] || !got[netip.MustParseAddr("127.0.0.16")] {
		t.Errorf("parseIfconfig = %v: 127.0.0.1 must not match 127.0.0.16", got)
	}
	got = parseIfconfig([]byte("\tinet 127.0.0.1 netmask 0xff000000\n"))
	if got[netip.MustParseAddr("127.0.0.16")] {
		t.Errorf("parseIfconfig = %v: 127.0.0.16 must not match 127.0.0.1", got)
	}
}

func FuzzParseIfconfig(f *testing.F) {
	for _, name := range []string{"fresh-boot.txt", "some-aliases.txt", "all-aliases.txt", "odd-spacing.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		set := parseIfconfig(out)
		for a := range set {
			if !a.Is4() {
				t.Fatalf("parseIfconfig returned non-IPv4 %s", a)
			}
			// Every address found is spelled out whole after an "inet" word.
			if !strings.Contains(string(out), a.String()) {
				t.Fatalf("parseIfconfig found %s, which the output does not contain", a)
			}
		}
	})
}

func TestAddAliasArgv(t *testing.T) {
	a := netip.MustParseAddr("127.0.0.16")
	want := []string{"/usr/bin/sudo", "-p", sudoPrompt, "/sbin/ifconfig", "lo0", "alias", "127.0.0.16/32", "up"}
	if got := addAliasArgv(a, true); !slices.Equal(got, want) {
		t.Errorf("addAliasArgv(%s, true) = %q, want %q", a, got, want)
	}
	want = append([]string{"/usr/bin/sudo", "-n"}, want[1:]...)
	if got := addAliasArgv(a, false); !slices.Equal(got, want) {
		t.Errorf("addAliasArgv(%s, false) = %q, want %q", a, got, want)
	}
}

// fakeLo0 is a macOS lo0 in memory, driven through the runner: ifconfig
// prints it, sudo ifconfig alias adds to it, unless failAdd.
type fakeLo0 struct {
	present map[netip.Addr]bool
	calls   [][]string
	failAdd error
}

func (f *fakeLo0) run(_ context.Context, argv []string, interactive bool) ([]byte, error) {
	f.calls = append(f.calls, argv)
	if slices.Equal(argv, []string{Ifconfig, "lo0"}) {
		var b strings.Builder
		b.WriteString("lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> mtu 16384\n\tinet 127.0.0.1 netmask 0xff000000\n")
		for a := range f.present {
			fmt.Fprintf(&b, "\tinet %s netmask 0xffffffff\n", a)
		}
		return []byte(b.String()), nil
	}
	if argv[0] != "/usr/bin/sudo" || (argv[1] == "-n") == interactive {
		return nil, fmt.Errorf("unexpected command %q (interactive %v)", argv, interactive)
	}
	if f.failAdd != nil {
		return nil, f.failAdd
	}
	a := netip.MustParsePrefix(argv[len(argv)-2]).Addr()
	f.present[a] = true
	return nil, nil
}

func (f *fakeLo0) adds() []string {
	var out []string
	for _, c := range f.calls {
		if c[0] == "/usr/bin/sudo" {
			out = append(out, strings.Join(c, " "))
		}
	}
	return out
}

func TestLo0AddsAllMissingAtOnce(t *testing.T) {
	pool := lease.MustParsePool("127.0.0.16-127.0.0.19")
	f := &fakeLo0{present: map[netip.Addr]bool{netip.MustParseAddr("127.0.0.17"): true}}
	l := lo0{run: f.run, interactive: true}
	if err := l.Up(context.Background(), netip.MustParseAddr("127.0.0.18"), pool); err != nil {
		t.Fatalf("Up = %v", err)
	}
	want := []string{
		"/usr/bin/sudo -p " + sudoPrompt + " /sbin/ifconfig lo0 alias 127.0.0.16/32 up",
		"/usr/bin/sudo -p " + sudoPrompt + " /sbin/ifconfig lo0 alias 127.0.0.18/32 up",
		"/usr/bin/sudo -p " + sudoPrompt + " /sbin/ifconfig lo0 alias 127.0.0.19/32 up",
	}
	if got := f.adds(); !slices.Equal(got, want) {
		t.Errorf("commands run = %q, want %q", got, want)
	}
	// All present now: only ifconfig is read, nothing is run under sudo.
	f.calls = nil
	if err := l.Up(context.Background(), netip.MustParseAddr("127.0.0.19"), pool); err != nil || len(f.adds()) != 0 || len(f.calls) != 1 {
		t.Errorf("Up with all present = %v, calls %q, want one ifconfig read and no sudo", err, f.calls)
	}
}

func TestLo0NoTerminal(t *testing.T) {
	pool := lease.MustParsePool("127.0.0.16")
	f := &fakeLo0{present: map[netip.Addr]bool{}, failAdd: errors.New("exit status 1: sudo: a password is required")}
	err := lo0{run: f.run, interactive: false}.Up(context.Background(), netip.MustParseAddr("127.0.0.16"), pool)
	want := "adding 127.0.0.16 to lo0 failed (no terminal, so sudo could not ask for a password): exit status 1: sudo: a password is required; " +
		"run by hand: sudo /sbin/ifconfig lo0 alias 127.0.0.16/32 up, or add the whole pool with: aliaslease pool up"
	if err == nil || err.Error() != want {
		t.Errorf("Up without a terminal = %v, want %q", err, want)
	}
	if got := f.adds(); len(got) != 1 || !strings.HasPrefix(got[0], "/usr/bin/sudo -n -p ") {
		t.Errorf("commands run = %q, want one sudo -n", got)
	}
}

// TestLo0RollsBackNewLease wires the macOS logic into a lease.Manager: a
// failed interface step leaves no lease behind (exit 7 in the CLI), while
// a renewal keeps its lease.
func TestLo0RollsBackNewLease(t *testing.T) {
	pool := lease.MustParsePool("127.0.0.16-127.0.0.17")
	f := &fakeLo0{present: map[netip.Addr]bool{}}
	m := &lease.Manager{Path: filepath.Join(t.TempDir(), "leases.db"), Pool: pool, LockTimeout: time.Second,
		Interface: lo0{run: f.run, interactive: false}}
	res, err := m.Acquire(context.Background(), "ok", 0)
	if err != nil || res.Lease.Alias != netip.MustParseAddr("127.0.0.16") {
		t.Fatalf("Acquire(%q) = %+v, %v", "ok", res, err)
	}
	f.present = map[netip.Addr]bool{} // reboot: aliases gone
	f.failAdd = errors.New("exit status 1")
	_, err = m.Acquire(context.Background(), "new", 0)
	if !errors.Is(err, lease.ErrInterface) || !strings.Contains(err.Error(), "run by hand") {
		t.Errorf("Acquire(%q) with a failing sudo = %v, want ErrInterface with the command to run by hand", "new", err)
	}
	ds, err := m.List(context.Background())
	if err != nil || len(ds) != 1 || ds[0].Lease.Slug != "ok" {
		t.Errorf("List after a failed acquire = %+v, %v, want only the lease of ok", ds, err)
	}
	if _, err := m.Acquire(context.Background(), "ok", 0); !errors.Is(err, lease.ErrInterface) {
		t.Errorf("renewal with a failing sudo = %v, want ErrInterface", err)
	}
	if ds, _ := m.List(context.Background()); len(ds) != 1 {
		t.Errorf("a renewal's lease was removed after its interface step failed: %+v", ds)
	}
}

func TestLo0StatusAndUpAll(t *testing.T) {
	pool := lease.MustParsePool("127.0.0.16-127.0.0.18")
	f := &fakeLo0{present: map[netip.Addr]bool{netip.MustParseAddr("127.0.0.17"): true}}
	l := lo0{run: f.run, interactive: true}
	st, err := l.Status(context.Background(), pool)
	if err != nil || len(st) != 3 || st[0].Up || !st[1].Up || st[2].Up {
		t.Errorf("Status = %+v, %v, want only 127.0.0.17 up", st, err)
	}
	added, err := l.UpAll(context.Background(), pool)
	if err != nil || setString(toSet(added)) != "127.0.0.16 127.0.0.18" {
		t.Errorf("UpAll = %v, %v, want 127.0.0.16 and 127.0.0.18 added", added, err)
	}
}

func toSet(as []netip.Addr) map[netip.Addr]bool {
	m := map[netip.Addr]bool{}
	for _, a := range as {
		m[a] = true
	}
	return m
}

func setString(m map[netip.Addr]bool) string {
	var as []netip.Addr
	for a := range m {
		as = append(as, a)
	}
	slices.SortFunc(as, netip.Addr.Compare)
	var ss []string
	for _, a := range as {
		ss = append(ss, a.String())
	}
	return strings.Join(ss, " ")
}
