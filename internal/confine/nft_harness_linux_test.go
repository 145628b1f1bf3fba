//go:build linux

// The parts the nftables tests share: root, a network namespace of the
// test's own, test cgroups, listeners, and probes that connect from inside
// or outside a cgroup.

package confine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	nftEnvNetNS  = "ALIASLEASE_NFT_NETNS"  // the test a re-executed binary runs in its own netns
	nftEnvHelper = "ALIASLEASE_NFT_HELPER" // "probe" or "container": TestNftHelperProcess's role
	nftEnvArg    = "ALIASLEASE_NFT_ARG"    // the helper's argument
)

// nftNeedRoot skips a test that needs root when not root, and fails it
// instead under ALIASLEASE_TEST_CONFINE=1. As root nothing is skipped: a
// missing kernel part or nft command fails the test.
func nftNeedRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("ALIASLEASE_TEST_CONFINE") == "1" {
		t.Fatal("confinement tests need root (ALIASLEASE_TEST_CONFINE=1)")
	}
	t.Skip("needs root (set ALIASLEASE_TEST_CONFINE=1 to make this a failure)")
}

// nftInNetNS runs the calling top-level test again, in a child process in
// a network namespace of its own (lo up, an empty ruleset), and reports
// its result. It returns true in that child, where the test goes on, and
// false in the parent, where the test is over.
func nftInNetNS(t *testing.T) bool {
	t.Helper()
	nftNeedRoot(t)
	if os.Getenv(nftEnvNetNS) == t.Name() {
		nftRun(t, "ip", "link", "set", "lo", "up")
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), nftEnvNetNS+"="+t.Name())
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	out, err := cmd.CombinedOutput()
	t.Logf("in a network namespace of its own:\n%s", out)
	if err != nil {
		t.Fatalf("%s in its own network namespace: %v", t.Name(), err)
	}
	if !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("%s did not pass in its own network namespace", t.Name())
	}
	return false
}

// nftRun runs a command (ip, nft) and fails the test when it fails.
func nftRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// nftCgroup2Mount returns the cgroup2 mount point and the cgroup path it
// shows, from /proc/self/mountinfo.
func nftCgroup2Mount(t *testing.T) (mnt, root string) {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if ok && len(f) >= 5 && len(g) >= 1 && g[0] == "cgroup2" {
			return nftUnescape(f[4]), nftUnescape(f[3])
		}
	}
	t.Fatal("no cgroup2 mount in /proc/self/mountinfo")
	return "", ""
}

func nftUnescape(s string) string {
	re := regexp.MustCompile(`\\[0-7]{3}`)
	return re.ReplaceAllStringFunc(s, func(o string) string {
		n, _ := strconv.ParseUint(o[1:], 8, 8)
		return string(rune(n))
	})
}

// nftCgroup is a cgroup a test made.
type nftCgroup struct {
	dir   string
	id    uint64 // from name_to_handle_at, as the nft command derives it
	level uint32
}

// nftNewCgroup makes a cgroup below parent ("" for the cgroup2 root) and
// removes it when the test ends.
func nftNewCgroup(t *testing.T, parent *nftCgroup) nftCgroup {
	t.Helper()
	mnt, root := nftCgroup2Mount(t)
	base, level := mnt, uint32(len(strings.FieldsFunc(root, func(r rune) bool { return r == '/' })))
	if parent != nil {
		base, level = parent.dir, parent.level
	}
	dir := filepath.Join(base, fmt.Sprintf("aliaslease-nfttest-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var err error
		for range 50 {
			if err = os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("remove cgroup %s: %v", dir, err)
	})
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, dir, 0)
	if err != nil {
		t.Fatalf("name_to_handle_at(%s): %v", dir, err)
	}
	if len(h.Bytes()) != 8 {
		t.Fatalf("handle of %s is %d bytes, want 8", dir, len(h.Bytes()))
	}
	return nftCgroup{dir: dir, id: nftNative64(h.Bytes()), level: level + 1}
}

func nftNative64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- { // little-endian hosts: amd64, arm64
		v = v<<8 | uint64(b[i])
	}
	return v
}

// nftTarget is one destination a probe tries: "tcp 127.0.0.18:4000".
type nftTarget struct {
	Net  string
	Addr netip.AddrPort
}

func (tg nftTarget) String() string { return tg.Net + " " + tg.Addr.String() }

// nftProbe tries each target from the calling process: "ok" (TCP
// connected; UDP sent and echoed), or the errno of the connect or send
// ("ECONNREFUSED", "EPERM"), or "noecho" (UDP sent, nothing came back).
func nftProbe(targets []nftTarget) []string {
	out := make([]string, len(targets))
	for i, tg := range targets {
		out[i] = nftProbeOne(tg)
	}
	return out
}

func nftProbeOne(tg nftTarget) string {
	family, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Port: int(tg.Addr.Port()), Addr: tg.Addr.Addr().As16()})
	if tg.Addr.Addr().Is4() {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: int(tg.Addr.Port()), Addr: tg.Addr.Addr().As4()}
	}
	typ := unix.SOCK_STREAM
	if tg.Net == "udp" {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return "socket: " + err.Error()
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Sec: 2}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if tg.Net == "tcp" {
		return nftErrno(unix.Connect(fd, sa))
	}
	if err := unix.Sendto(fd, []byte("nft-probe"), 0, sa); err != nil {
		return nftErrno(err)
	}
	buf := make([]byte, 64)
	if n, _, err := unix.Recvfrom(fd, buf, 0); err != nil || string(buf[:n]) != "nft-probe" {
		return "noecho"
	}
	return "ok"
}

func nftErrno(err error) string {
	var errno syscall.Errno
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &errno):
		return unix.ErrnoName(errno)
	}
	return err.Error()
}

// nftProbeIn runs nftProbe in a child process started in cg's cgroup
// (CLONE_INTO_CGROUP, so that every socket it makes is the cgroup's).
func nftProbeIn(t *testing.T, cg nftCgroup, targets []nftTarget) []string {
	t.Helper()
	arg, err := json.Marshal(targets)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(cg.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	cmd := nftHelper("probe", string(arg))
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("probe in %s: %v\n%s", cg.dir, err, out)
	}
	var got []string
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil || len(got) != len(targets) {
		t.Fatalf("probe in %s said %q (%v)", cg.dir, out, err)
	}
	return got
}

func nftHelper(role, arg string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestNftHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), nftEnvHelper+"="+role, nftEnvArg+"="+arg)
	return cmd
}

// TestNftHelperProcess is not a test: it is the process the other tests
// start, as a probe or a server inside a cgroup, as a container behind a
// bridge, or as a user who is not root.
func TestNftHelperProcess(t *testing.T) {
	switch os.Getenv(nftEnvHelper) {
	case "probe":
		var targets []nftTarget
		if err := json.Unmarshal([]byte(os.Getenv(nftEnvArg)), &targets); err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		b, _ := json.Marshal(nftProbe(targets))
		fmt.Printf("%s\n", b)
		os.Exit(0)
	case "container":
		nftContainer(os.Getenv(nftEnvArg))
		os.Exit(0)
	case "server":
		nftServer(os.Getenv(nftEnvArg))
		os.Exit(0)
	case "unprivileged":
		b, _ := json.Marshal(nftUnprivileged())
		fmt.Printf("%s\n", b)
		os.Exit(0)
	}
	t.Skip("the helper process of the nftables tests")
}

// nftServe listens on addr, TCP (accepting and closing) and UDP (echoing),
// on one port, until the test ends.
func nftServe(t *testing.T, addr netip.Addr) uint16 {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
		if err != nil {
			t.Fatalf("listen on %v: %v", addr, err)
		}
		port := uint16(ln.Addr().(*net.TCPAddr).Port)
		pc, err := net.ListenPacket("udp", netip.AddrPortFrom(addr, port).String())
		if err != nil {
			ln.Close()
			continue
		}
		nftServeOn(ln, pc)
		t.Cleanup(func() { ln.Close(); pc.Close() })
		return port
	}
	t.Fatalf("no port free for TCP and UDP on %v", addr)
	return 0
}

func nftServeOn(ln net.Listener, pc net.PacketConn) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	go nftEcho(pc)
}

// nftEcho sends every datagram back to where it came from.
func nftEcho(pc net.PacketConn) {
	buf := make([]byte, 64)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		pc.WriteTo(buf[:n], from)
	}
}
