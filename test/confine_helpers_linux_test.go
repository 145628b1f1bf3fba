package test

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/internal/confine"
)

// confineEnv is where the run --confine tests work: a database of the
// test's own (root's), Docker off, a pool nothing else uses, and the
// binaries in a directory the confined user (nobody) may read, since the
// confined command (and verify's probe, this binary) runs as that user.
type confineEnv struct {
	env   []string
	pool  testPool
	bin   string // aliaslease
	reach string // testdata/reach
	root  confine.Root
}

var (
	reachOnce sync.Once
	reachDir  string
	reachErr  error
)

// newConfineEnv makes a confineEnv; it skips the test only when it does
// not run as root or no cgroup2 is found.
func newConfineEnv(t *testing.T) *confineEnv {
	t.Helper()
	if !isRoot() {
		t.Skip("needs root: run --confine makes a cgroup and nftables rules")
	}
	root, err := confine.Find()
	if err != nil {
		t.Skipf("no cgroup2 found: %v", err)
	}
	if err := confineBins(); err != nil {
		t.Fatal(err)
	}
	e := &confineEnv{pool: freePool(t, 8), bin: filepath.Join(reachDir, "aliaslease"), reach: filepath.Join(reachDir, "reach"), root: root}
	e.env = []string{"ALIASLEASE_DB=" + filepath.Join(t.TempDir(), "leases.db"), "ALIASLEASE_DOCKER=off",
		"ALIASLEASE_POOL=" + e.pool.spec(), "R=" + e.reach}
	return e
}

// confineBins builds, once per run, reach and a copy of aliaslease in a
// directory everyone may read.
func confineBins() error {
	reachOnce.Do(func() {
		// Beside the suite's binaries (removed with them), their directory
		// made passable (not readable) by others.
		if reachErr = os.Chmod(filepath.Dir(bin), 0o711); reachErr != nil {
			return
		}
		reachDir = filepath.Join(filepath.Dir(bin), "confine")
		if reachErr = os.Mkdir(reachDir, 0o755); reachErr != nil {
			return
		}
		if reachErr = goBuild(filepath.Join(reachDir, "reach"), "./testdata/reach", nil); reachErr != nil {
			return
		}
		b, err := os.ReadFile(bin)
		if err == nil {
			err = os.WriteFile(filepath.Join(reachDir, "aliaslease"), b, 0o755)
		}
		reachErr = err
	})
	return reachErr
}

// cli runs aliaslease with args to its end.
func (e *confineEnv) cli(t *testing.T, args ...string) result {
	t.Helper()
	return runBin(t, e.bin, e.env, args...)
}

// acquire leases slug and returns its alias.
func (e *confineEnv) acquire(t *testing.T, slug string) netip.Addr {
	t.Helper()
	r := e.cli(t, "acquire", "--no-ifup", slug)
	if r.code != 0 {
		t.Fatalf("acquire %s: %v", slug, r)
	}
	return netip.MustParseAddr(strings.TrimSpace(r.stdout))
}

// confinedRun is one "aliaslease run --confine" whose command prints
// reach's lines.
type confinedRun struct {
	p      *proc
	lines  chan string // the command's stdout, line by line
	stderr *os.File
}

// start starts "aliaslease run --no-ifup --confine --user nobody FLAGS
// SLUG -- sh -c SCRIPT" ($R is reach).
func (e *confineEnv) start(t *testing.T, flags []string, slug, script string) *confinedRun {
	t.Helper()
	args := append(append([]string{"run", "--no-ifup", "--confine", "--user", "nobody"}, flags...), slug, "--", "sh", "-c", script)
	return e.startArgs(t, args...)
}

// startArgs starts aliaslease with args, reading its stdout line by line
// (through a pipe: the tree may outlive the wrapper and keep its end open).
func (e *confineEnv) startArgs(t *testing.T, args ...string) *confinedRun {
	t.Helper()
	out, stdout, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close(); stderr.Close() })
	cmd := command(e.bin, e.env, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Dir = "/"
	cr := &confinedRun{p: startProc(t, cmd), lines: make(chan string, 1024), stderr: stderr}
	stdout.Close()
	go func() {
		defer close(cr.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			cr.lines <- sc.Text()
		}
	}()
	return cr
}

// errText is what the wrapper wrote on stderr so far.
func (cr *confinedRun) errText() string {
	b, _ := os.ReadFile(cr.stderr.Name())
	return string(b)
}

// results reads reach's lines "TAG ITEM RESULT" until every key
// ("TAG ITEM") of want has one, and returns them by key.
func (cr *confinedRun) results(t *testing.T, keys []string, limit time.Duration) map[string]string {
	t.Helper()
	got := map[string]string{}
	deadline := time.After(limit)
	for missing(got, keys) {
		select {
		case line, ok := <-cr.lines:
			if !ok {
				t.Fatalf("the command's output ended before %v were all answered; got %v; wrapper stderr %q", keys, got, cr.errText())
			}
			if f := strings.SplitN(line, " ", 3); len(f) == 3 {
				got[f[0]+" "+f[1]] = f[2]
			}
		case <-deadline:
			t.Fatalf("no answer for all of %v within %v; got %v; wrapper stderr %q", keys, limit, got, cr.errText())
		}
	}
	return got
}

func missing(got map[string]string, keys []string) bool {
	for _, k := range keys {
		if _, ok := got[k]; !ok {
			return true
		}
	}
	return false
}

// end sends SIGTERM to the wrapper and waits for it.
func (cr *confinedRun) end(t *testing.T) result {
	t.Helper()
	cr.p.cmd.Process.Signal(syscall.SIGTERM)
	r, killed := cr.p.waitFor(30 * time.Second)
	if killed {
		t.Fatalf("the wrapper did not end within 30s of SIGTERM")
	}
	return r
}

// server is a TCP listener and a UDP socket on one port of one address,
// recording the tags (first lines) that reached each.
type server struct {
	addr netip.AddrPort
	mu   sync.Mutex
	tcp  map[string]bool
	udp  map[string]bool
}

// serve opens a server on an ephemeral port of addr (for TCP only when
// tcpOnly), closed when the test ends.
func serve(t *testing.T, addr netip.Addr, port uint16, tcpOnly bool) *server {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(addr, port).String())
	if err != nil {
		t.Fatalf("listen on %v: %v", addr, err)
	}
	s := &server{addr: netip.MustParseAddrPort(ln.Addr().String()), tcp: map[string]bool{}, udp: map[string]bool{}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if line, err := bufio.NewReader(c).ReadString('\n'); err == nil {
					s.mark(s.tcp, line)
				}
			}()
		}
	}()
	if tcpOnly {
		return s
	}
	u, err := net.ListenPacket("udp", s.addr.String())
	if err != nil {
		t.Fatalf("listen on udp %v: %v", s.addr, err)
	}
	t.Cleanup(func() { u.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, _, err := u.ReadFrom(buf)
			if err != nil {
				return
			}
			s.mark(s.udp, string(buf[:n]))
		}
	}()
	return s
}

func (s *server) mark(m map[string]bool, line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m[strings.TrimSpace(line)] = true
}

// reached says whether tag reached the server over proto.
func (s *server) reached(proto, tag string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if proto == "tcp" {
		return s.tcp[tag]
	}
	return s.udp[tag]
}

// waitReached says whether tag reached the server over proto within 2s
// (the server reads what was sent on a goroutine of its own).
func (s *server) waitReached(proto, tag string) bool {
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if s.reached(proto, tag) {
			return true
		}
	}
	return false
}

// item is reach's item for proto to the server, at addr when valid (an
// IPv4-mapped form of the server's address).
func (s *server) item(proto string, addr netip.Addr) string {
	if !addr.IsValid() {
		addr = s.addr.Addr()
	}
	return proto + ":" + netip.AddrPortFrom(addr, s.addr.Port()).String()
}

// outside runs reach as root outside any confinement and returns its
// results by item.
func (e *confineEnv) outside(t *testing.T, tag string, items []string) map[string]string {
	t.Helper()
	r := runBin(t, e.reach, nil, append([]string{tag}, items...)...)
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if f := strings.SplitN(line, " ", 3); len(f) == 3 {
			got[f[1]] = f[2]
		}
	}
	return got
}

// cgroupOf reads the cgroup of reach's "id" answer and returns its
// directory and id.
func (e *confineEnv) cgroupOf(t *testing.T, idLine string) (string, uint64) {
	t.Helper()
	_, path, ok := strings.Cut(idLine, "cgroup=")
	if !ok {
		t.Fatalf("no cgroup in %q", idLine)
	}
	dir := filepath.Join(e.root.Mount, path)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("the confined command's cgroup: %v", err)
	}
	return dir, fi.Sys().(*syscall.Stat_t).Ino
}

// firewallHas says whether aliaslease's table (of this network namespace)
// holds anything of the confinement of cgroup id.
func firewallHas(t *testing.T, id uint64) (present, complete bool) {
	t.Helper()
	st, err := confine.HostFirewall().List()
	if err != nil {
		t.Fatalf("firewall List: %v", err)
	}
	for _, s := range st {
		if s.CgroupID == id {
			return true, s.Complete
		}
	}
	return false, false
}

// noTrace checks that nothing of a confinement is left: neither its rules
// nor its cgroup.
func noTrace(t *testing.T, dir string, id uint64) {
	t.Helper()
	if present, _ := firewallHas(t, id); present {
		t.Errorf("the rules of cgroup %d are still in aliaslease's table", id)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the cgroup %s is still there (%v)", dir, err)
	}
}

// key is the key of reach's answer for item under tag.
func key(tag, item string) string { return fmt.Sprintf("%s %s", tag, item) }

// confineFirewallRemove removes the rules of cgroup id from aliaslease's
// table of this network namespace.
func confineFirewallRemove(id uint64) error { return confine.HostFirewall().Remove(id) }
