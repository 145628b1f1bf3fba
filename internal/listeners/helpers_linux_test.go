package listeners

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the other processes the tests need: with
// LISTENERS_HOLD it opens sockets and holds them until its stdin closes;
// with LISTENERS_QUERY it reports what Bound, HostNetns and Owners say.
func TestMain(m *testing.M) {
	switch {
	case os.Getenv("LISTENERS_HOLD") != "":
		hold(os.Getenv("LISTENERS_HOLD"))
	case os.Getenv("LISTENERS_QUERY") != "":
		query(os.Getenv("LISTENERS_QUERY"))
		os.Exit(0)
	default:
		os.Exit(m.Run())
	}
}

// hold opens each "kind addr [xN]" of spec (kinds: tcp, tcp6, udp, udp6,
// and conn, a TCP connection from the first address to the second),
// prints the local addresses as JSON, and waits for stdin to close.
func hold(spec string) {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	var addrs []string
	var keep []io.Closer
	for _, item := range strings.Split(spec, ",") {
		f := strings.Fields(item)
		n := 1
		if len(f) == 3 {
			n, _ = strconv.Atoi(strings.TrimPrefix(f[2], "x"))
		}
		for range n {
			c, addr, err := open(f[0], f[1])
			if err != nil {
				fmt.Fprintln(os.Stderr, "hold:", item, err)
				os.Exit(1)
			}
			keep, addrs = append(keep, c...), append(addrs, addr)
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(addrs)
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range keep {
		c.Close()
	}
	os.Exit(0)
}

// openMapped binds an IPv6 socket on a v4-mapped address, which Go's net
// refuses: "tcp6m 127.0.173.18:0" is [::ffff:127.0.173.18].
func openMapped(kind, addr string) ([]io.Closer, string, error) {
	ap := netip.MustParseAddrPort(addr)
	typ := syscall.SOCK_STREAM
	if kind == "udp6m" {
		typ = syscall.SOCK_DGRAM
	}
	fd, err := syscall.Socket(syscall.AF_INET6, typ|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, "", err
	}
	f := os.NewFile(uintptr(fd), kind)
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 0); err != nil {
		f.Close()
		return nil, "", err
	}
	sa := &syscall.SockaddrInet6{Addr: netip.AddrFrom16(ap.Addr().As16()).As16(), Port: int(ap.Port())}
	if err := syscall.Bind(fd, sa); err != nil {
		f.Close()
		return nil, "", err
	}
	if typ == syscall.SOCK_STREAM {
		if err := syscall.Listen(fd, 16); err != nil {
			f.Close()
			return nil, "", err
		}
	}
	got, err := syscall.Getsockname(fd)
	if err != nil {
		f.Close()
		return nil, "", err
	}
	in6 := got.(*syscall.SockaddrInet6)
	return []io.Closer{f}, netip.AddrPortFrom(netip.AddrFrom16(in6.Addr), uint16(in6.Port)).String(), nil
}

func open(kind, addr string) ([]io.Closer, string, error) {
	switch kind {
	case "tcp6m", "udp6m":
		return openMapped(kind, addr)
	case "tcp", "tcp4", "tcp6":
		ln, err := net.Listen(kind, addr)
		if err != nil {
			return nil, "", err
		}
		return []io.Closer{ln}, ln.Addr().String(), nil
	case "udp", "udp4", "udp6":
		c, err := net.ListenPacket(kind, addr)
		if err != nil {
			return nil, "", err
		}
		return []io.Closer{c}, c.LocalAddr().String(), nil
	case "conn": // "LOCAL>SERVER": a listener on SERVER, a connection to it from LOCAL
		local, server, _ := strings.Cut(addr, ">")
		ln, err := net.Listen("tcp", server)
		if err != nil {
			return nil, "", err
		}
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(local))}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			return nil, "", err
		}
		s, err := ln.Accept()
		if err != nil {
			return nil, "", err
		}
		return []io.Closer{ln, c, s}, c.LocalAddr().String() + ">" + ln.Addr().String(), nil
	}
	return nil, "", fmt.Errorf("unknown kind %q", kind)
}

// queryResult is what a query process reports.
type queryResult struct {
	Sockets     []string
	Owners      map[string]Process
	Same, Known bool
	Err         string
}

func query(prefixes string) {
	if spec := os.Getenv("LISTENERS_QUERY_HOLD"); spec != "" {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "LISTENERS_HOLD="+spec, "LISTENERS_QUERY=")
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "query:", err)
			os.Exit(1)
		}
		defer func() { stdin.Close(); cmd.Wait() }()
		if _, err := bufio.NewReader(stdout).ReadBytes('\n'); err != nil {
			fmt.Fprintln(os.Stderr, "query: holder:", err)
			os.Exit(1)
		}
	}
	var within []netip.Prefix
	for _, p := range strings.Split(prefixes, ",") {
		within = append(within, netip.MustParsePrefix(p))
	}
	var r queryResult
	socks, err := Bound(context.Background(), within)
	if err == nil {
		var own map[uint64]Process
		own, err = Owners(socks)
		r.Owners = make(map[string]Process)
		for _, s := range socks {
			r.Sockets = append(r.Sockets, s.String())
			if p, ok := own[s.Inode]; ok {
				r.Owners[s.String()] = p
			}
		}
	}
	if err == nil {
		r.Same, r.Known, err = HostNetns()
	}
	if err != nil {
		r.Err = err.Error()
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

// holder is a child process holding sockets.
type holder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	Addrs []string // as the child reports them, in spec order
}

// startHolder starts a child holding spec's sockets; cleanup ends it.
func startHolder(t testing.TB, spec string) *holder {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LISTENERS_HOLD="+spec)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &holder{cmd: cmd, stdin: stdin}
	t.Cleanup(h.stop)
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		t.Fatalf("holder %q: %v", spec, err)
	}
	if err := json.Unmarshal(line, &h.Addrs); err != nil {
		t.Fatalf("holder %q: %v", spec, err)
	}
	return h
}

// stop closes the child's sockets and waits for it to exit.
func (h *holder) stop() {
	if h.stdin == nil {
		return
	}
	h.stdin.Close()
	h.stdin = nil
	done := make(chan struct{})
	go func() { h.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		h.cmd.Process.Kill()
		<-done
	}
}

// runQuery runs a query process for prefixes with attr (a namespace, a
// user) and decodes its report.
func runQuery(t *testing.T, exe, prefixes, holdSpec string, attr *syscall.SysProcAttr) queryResult {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "LISTENERS_QUERY="+prefixes, "LISTENERS_QUERY_HOLD="+holdSpec)
	cmd.SysProcAttr = attr
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("query %s: %v", prefixes, err)
	}
	var r queryResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("query %s: %v in %q", prefixes, err, out)
	}
	return r
}
