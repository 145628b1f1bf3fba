package test

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/aliaslease/aliaslease/internal/confine"
)

// confineEnvNetNS names the test a re-executed test binary runs in a
// network and mount namespace of its own.
const confineEnvNetNS = "ALIASLEASE_CONFINE_NETNS"

// ownNamespaces re-executes the test in a network namespace (loopback up)
// and a private mount namespace of its own and returns false in the
// caller, which only reports; it returns true in the re-executed test.
// What the test does to the firewall (a DNAT, a deleted table, a flushed
// ruleset) and to /etc/resolv.conf then never touches the host's.
func ownNamespaces(t *testing.T) bool {
	t.Helper()
	if os.Getenv(confineEnvNetNS) != t.Name() {
		newConfineEnv(t) // skips where the test cannot run
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), confineEnvNetNS+"="+t.Name())
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS}
		out, err := cmd.CombinedOutput()
		t.Logf("in namespaces of its own:\n%s", out)
		if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
			t.Fatalf("%s in namespaces of its own: %v", t.Name(), err)
		}
		return false
	}
	if err := syscall.Mount("none", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		t.Fatalf("make / private in the test's mount namespace: %v", err)
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v\n%s", err, out)
	}
	return true
}

// stubResolver bind-mounts, in the test's private mount namespace, a
// resolv.conf naming a local nameserver at addr over /etc/resolv.conf.
func stubResolver(t *testing.T, addr netip.Addr) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(f, []byte("# a local stub, as systemd-resolved's\nnameserver "+addr.String()+"\noptions edns0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(f, "/etc/resolv.conf", "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind-mount a resolv.conf: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount("/etc/resolv.conf", syscall.MNT_DETACH) })
}

// dnat loads, in the test's network namespace, what Docker without its
// userland proxy does for a published loopback port: a DNAT in nat OUTPUT
// (priority -100) from one address and port to another, TCP and UDP.
func dnat(t *testing.T, from, to netip.AddrPort) {
	t.Helper()
	var b strings.Builder
	b.WriteString("table ip dockerish {\n chain output {\n  type nat hook output priority -100; policy accept;\n")
	for _, proto := range []string{"tcp", "udp"} {
		fmt.Fprintf(&b, "  ip daddr %v %s dport %d dnat to %v\n", from.Addr(), proto, from.Port(), to)
	}
	b.WriteString(" }\n}\n")
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v\n%s\n%s", err, out, b.String())
	}
}

// nftList is what "nft list ARGS..." prints (the test's own network
// namespace).
func nftList(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("nft", append([]string{"list"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// In namespaces of the test's own: a local nameserver of resolv.conf is
// reachable on port 53 only; a DNAT of another alias's published port to
// a destination the tree may reach does not let its connect through (the
// rules judge the original destination), and that DNAT's table is left as
// it was; and when aliaslease's table is
// deleted, or the whole ruleset flushed, under the live tree, the wrapper
// restores the rules: the test measures how long that takes, and checks
// that a tree connecting to another alias all the while got through only
// inside those windows. Nothing is left once the run ends.
func TestRunConfineNamespaced(t *testing.T) {
	if !ownNamespaces(t) {
		return
	}
	stub := netip.MustParseAddr("127.0.99.53")
	stubResolver(t, stub)
	e := newConfineEnv(t)
	own, other := e.acquire(t, "own"), e.acquire(t, "other")
	ownSrv, otherSrv := serve(t, own, 0, false), serve(t, other, 0, false)
	dns, notDNS := serve(t, stub, 53, false), serve(t, stub, 54, false)
	published := netip.AddrPortFrom(other, 9999)
	dnat(t, published, ownSrv.addr)
	dockerish := nftList(t, "table", "ip", "dockerish")
	allowed := []string{ownSrv.item("tcp", netip.Addr{}), ownSrv.item("udp", netip.Addr{}), dns.item("tcp", netip.Addr{}), dns.item("udp", netip.Addr{})}
	refused := []string{notDNS.item("tcp", netip.Addr{}), notDNS.item("udp", netip.Addr{}),
		"tcp:" + published.String(), "udp:" + published.String(), otherSrv.item("tcp", netip.Addr{})}
	items := append(append([]string{"id"}, allowed...), refused...)
	script := `"$R" main ` + strings.Join(items, " ") + `; exec "$R" loop loop:60s:` + otherSrv.item("tcp", netip.Addr{})
	cr := e.start(t, nil, "own", script)
	var keys []string
	for _, it := range items {
		keys = append(keys, key("main", it))
	}
	got := cr.results(t, keys, 30*time.Second)
	dir, id := e.cgroupOf(t, got[key("main", "id")])
	for _, it := range allowed {
		if got[key("main", it)] != "ok" {
			t.Errorf("confined: %s = %s, want ok", it, got[key("main", it)])
		}
	}
	for _, it := range refused {
		if r := got[key("main", it)]; r != "refused" && r != "eperm" {
			t.Errorf("confined: %s = %s, want refused", it, r)
		}
	}
	for it, r := range e.outside(t, "outside", append(allowed, refused...)) {
		if r != "ok" {
			t.Errorf("outside the cgroup: %s = %s, want ok", it, r)
		}
	}
	if !ownSrv.waitReached("tcp", "outside") {
		t.Errorf("outside: %v did not reach %v through the DNAT: the test's DNAT does nothing", published, ownSrv.addr)
	}
	if !dns.waitReached("udp", "main") || notDNS.reached("tcp", "main") || notDNS.reached("udp", "main") {
		t.Errorf("the stub: port 53 reached %v, port 54 reached %v/%v; want 53 only",
			dns.reached("udp", "main"), notDNS.reached("tcp", "main"), notDNS.reached("udp", "main"))
	}
	if now := nftList(t, "table", "ip", "dockerish"); now != dockerish {
		t.Errorf("the DNAT table changed under run --confine:\n%s\nwas:\n%s", now, dockerish)
	}
	windows := removeUnder(t, id)
	checkLoop(t, cr, windows)
	if r := cr.end(t); r.code != 143 {
		t.Errorf("run after SIGTERM: exit %d, want 143; stderr %q", r.code, cr.errText())
	}
	if !strings.Contains(cr.errText(), "restored") {
		t.Errorf("the wrapper said nothing of restoring the rules: stderr %q", cr.errText())
	}
	noTrace(t, dir, id)
}

// window is one removal of the rules under the live tree: from just
// before the removal's transaction was sent until they were found whole
// again (so at least as long as the time the tree ran without them).
type window struct{ from, to time.Time }

// removeUnder deletes aliaslease's table ten times, then flushes the
// whole ruleset (in the test's own network namespace), each time waiting
// until the rules of cgroup id are whole again, and logs how long that
// took.
func removeUnder(t *testing.T, id uint64) []window {
	t.Helper()
	var ws []window
	var took []time.Duration
	for i := range 11 {
		c, err := nftables.New()
		if err != nil {
			t.Fatal(err)
		}
		if i < 10 {
			c.DelTable(&nftables.Table{Name: confine.TableName, Family: nftables.TableFamilyINet})
		} else {
			c.FlushRuleset()
		}
		w := window{from: time.Now()} // the commit lies inside Flush: an upper bound
		if err := c.Flush(); err != nil {
			t.Fatalf("remove the rules under the tree: %v", err)
		}
		for {
			if _, complete := firewallHas(t, id); complete {
				break
			}
			if time.Since(w.from) > 10*time.Second {
				t.Fatalf("the rules of cgroup %d were not restored within 10s", id)
			}
			time.Sleep(time.Millisecond)
		}
		w.to = time.Now()
		ws, took = append(ws, w), append(took, w.to.Sub(w.from))
		time.Sleep(100 * time.Millisecond)
	}
	flush := took[10]
	slices.Sort(took[:10])
	t.Logf("rules restored after the table was deleted: median %v, max %v (10 times); after a flush of the ruleset: %v",
		took[5], took[9], flush)
	return ws
}

// checkLoop reads the loop's lines, in the order the tree wrote them,
// until one written 300 ms after the last removal's window (so every
// success before it has been seen), and fails the test for any success
// (a connect to another alias) outside a removal window (with 50 ms for
// the connect and the line to travel); it logs, per window, for how long
// the tree got through (its first to its last success there, plus the
// loop's step).
func checkLoop(t *testing.T, cr *confinedRun, ws []window) {
	t.Helper()
	const slack = 50 * time.Millisecond
	first, last := make([]time.Time, len(ws)), make([]time.Time, len(ws))
	after := ws[len(ws)-1].to.Add(300 * time.Millisecond)
	n := 0
	limit := time.After(time.Until(after) + 30*time.Second)
	for {
		var line string
		select {
		case l, ok := <-cr.lines:
			if !ok {
				t.Fatalf("the tree's output ended while its loop should still run; wrapper stderr %q", cr.errText())
			}
			line = l
		case <-limit:
			t.Fatalf("the tree's loop wrote nothing after %v", after.Format(time.RFC3339Nano))
		}
		if rest, ok := strings.CutPrefix(line, "loop loop tried "); ok {
			f := strings.Fields(rest)
			ns, err := strconv.ParseInt(f[len(f)-1], 10, 64)
			if err != nil {
				t.Fatalf("loop line %q", line)
			}
			if time.Unix(0, ns).After(after) {
				var spans []time.Duration
				for i := range ws {
					if !first[i].IsZero() {
						spans = append(spans, last[i].Sub(first[i])+time.Millisecond)
					}
				}
				slices.Sort(spans)
				t.Logf("the tree reached another alias %d times, each inside a removal's window; in %d of %d windows, for at most %v each (%v)",
					n, len(spans), len(ws), slices.Max(append(spans, 0)), spans)
				return
			}
		}
		ts, ok := strings.CutPrefix(line, "loop loop ok ")
		if !ok {
			continue
		}
		ns, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			t.Fatalf("loop line %q", line)
		}
		at := time.Unix(0, ns)
		i := slices.IndexFunc(ws, func(w window) bool { return !at.Before(w.from.Add(-slack)) && !at.After(w.to.Add(slack)) })
		if i < 0 {
			t.Errorf("the tree reached another alias at %v, outside every removal window", at.Format(time.RFC3339Nano))
			continue
		}
		if first[i].IsZero() {
			first[i] = at
		}
		last[i], n = at, n+1
	}
}
