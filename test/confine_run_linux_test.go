package test

import (
	"crypto/rand"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// testBridge makes a bridge of the test's own on the host, with an
// address of a private /24 (the host side of a network of bridged
// containers), and removes it when the test ends.
func testBridge(t *testing.T) netip.Addr {
	t.Helper()
	var b [2]byte
	rand.Read(b[:])
	name := fmt.Sprintf("altest%x", b)
	addr := netip.AddrFrom4([4]byte{10, 251, b[0], 1})
	for _, args := range [][]string{
		{"link", "add", "name", name, "type", "bridge"},
		{"addr", "add", addr.String() + "/24", "dev", name},
		{"link", "set", name, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			exec.Command("ip", "link", "del", name).Run()
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if args[0] == "link" && args[1] == "add" {
			t.Cleanup(func() { exec.Command("ip", "link", "del", name).Run() })
		}
	}
	return addr
}

// containerAddr starts a container of another bottle (the test image's
// holder listens on :8080 inside) and returns its bridge address; false
// when no engine answers (and ALIASLEASE_TEST_DOCKER is not 1).
func containerAddr(t *testing.T, slug string) (netip.Addr, bool) {
	t.Helper()
	if _, ok := dockerIfAny(t); !ok {
		return netip.Addr{}, false
	}
	name := start(t, container{name: "confined-" + slug, slug: slug, noPorts: true})
	ip := strings.TrimSpace(docker(t, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name))
	a, err := netip.ParseAddr(strings.Fields(ip + " -")[0])
	if err != nil {
		t.Fatalf("the bridge address of %s: %q", name, ip)
	}
	return a, true
}

// A confined command reaches its own alias, TCP and UDP, and nothing else
// local: not another pool alias (also written IPv4-mapped), 127.0.0.1,
// ::1, a bridge address of the host, nor a container of another bottle
// on Docker's bridge. It runs as the unprivileged user, with
// no_new_privs, and can neither delete aliaslease's table nor leave its
// cgroup; a double-forked setsid grandchild is held the same way. A
// process outside the cgroup reaches all of it. Once the run ends, no
// rule and no cgroup is left.
func TestRunConfineRefusesLocal(t *testing.T) {
	e := newConfineEnv(t)
	bridge := testBridge(t)
	own, other := e.acquire(t, "own"), e.acquire(t, "other")
	ownSrv := serve(t, own, 0, false)
	servers := map[string]*server{
		"other alias": serve(t, other, 0, false),
		"127.0.0.1":   serve(t, netip.MustParseAddr("127.0.0.1"), 0, false),
		"::1":         serve(t, netip.IPv6Loopback(), 0, false),
		"test bridge": serve(t, bridge, 0, false),
	}
	refused := []string{}
	for _, s := range servers {
		refused = append(refused, s.item("tcp", netip.Addr{}), s.item("udp", netip.Addr{}))
	}
	mapped := netip.AddrFrom16(other.As16()) // ::ffff:OTHER
	refused = append(refused, servers["other alias"].item("tcp", mapped), servers["other alias"].item("udp", mapped))
	if ctr, ok := containerAddr(t, "other"); ok {
		refused = append(refused, "tcp:"+netip.AddrPortFrom(ctr, 8080).String())
	} else {
		t.Log("no Docker engine: the container of another bottle is left out")
	}
	allowed := []string{ownSrv.item("tcp", netip.Addr{}), ownSrv.item("udp", netip.Addr{})}
	escape := []string{"id", "nft-delete", "leave:" + filepath.Join(e.root.Mount, "cgroup.procs")}
	items := strings.Join(append(append(append([]string{}, escape...), allowed...), refused...), " ")
	script := `"$R" main ` + items + `; ( setsid "$R" gc ` + items + ` & ); exec sleep 60`
	cr := e.start(t, nil, "own", script)
	var keys []string
	for _, tag := range []string{"main", "gc"} {
		for _, it := range strings.Fields(items) {
			keys = append(keys, key(tag, it))
		}
	}
	got := cr.results(t, keys, 60*time.Second)
	dir, id := e.cgroupOf(t, got[key("main", "id")])
	for _, tag := range []string{"main", "gc"} {
		if idl := got[key(tag, "id")]; !strings.HasPrefix(idl, "uid=65534 ") || !strings.Contains(idl, " nnp=1 ") {
			t.Errorf("%s: id %q, want uid 65534 (nobody) with no_new_privs", tag, idl)
		}
		if _, gs, _ := strings.Cut(got[key(tag, "id")], " groups="); slices.Contains(strings.Split(strings.Fields(gs + " ")[0], ","), "0") {
			t.Errorf("%s: %q, want none of root's groups", tag, got[key(tag, "id")])
		}
		if g := got[key(tag, "id")]; !strings.HasSuffix(g, "cgroup="+strings.TrimPrefix(dir, e.root.Mount)) {
			t.Errorf("%s: %q, want it in the run's cgroup %s", tag, g, dir)
		}
		for _, it := range escape[1:] {
			if got[key(tag, it)] == "ok" {
				t.Errorf("%s: %s succeeded from inside the confinement", tag, it)
			}
		}
		for _, it := range allowed {
			if r := got[key(tag, it)]; r != "ok" {
				t.Errorf("%s: %s = %s, want ok (its own alias)", tag, it, r)
			}
		}
		for _, it := range refused {
			if r := got[key(tag, it)]; r != "refused" && r != "eperm" {
				t.Errorf("%s: %s = %s, want refused (TCP) or eperm (UDP)", tag, it, r)
			}
		}
	}
	for _, proto := range []string{"tcp", "udp"} {
		if !ownSrv.waitReached(proto, "main") || !ownSrv.waitReached(proto, "gc") {
			t.Errorf("own alias over %s: not reached by both the command and its grandchild", proto)
		}
		for name, s := range servers {
			if s.reached(proto, "main") || s.reached(proto, "gc") {
				t.Errorf("%s over %s: reached from inside the confinement", name, proto)
			}
		}
	}
	for it, r := range e.outside(t, "outside", append(allowed, refused...)) {
		if r != "ok" {
			t.Errorf("outside the cgroup: %s = %s, want ok", it, r)
		}
	}
	if present, complete := firewallHas(t, id); !present || !complete {
		t.Errorf("while the tree runs: rules of cgroup %d present %v, complete %v; want both", id, present, complete)
	}
	if r := cr.end(t); r.code != 143 {
		t.Errorf("run after SIGTERM: exit %d, want 143 (the command's); stderr %q", r.code, cr.errText())
	}
	noTrace(t, dir, id)
}
