//go:build linux

package confine

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// nftServer is the server role: it listens on arg (an address), TCP
// (writing "hello" to each connection) and UDP (echoing), prints the port
// and serves until its stdin closes.
func nftServer(arg string) {
	ln, err := net.Listen("tcp", net.JoinHostPort(arg, "0"))
	if err != nil {
		fmt.Println(err)
		return
	}
	port := ln.Addr().(*net.TCPAddr).Port
	pc, err := net.ListenPacket("udp", net.JoinHostPort(arg, fmt.Sprint(port)))
	if err != nil {
		fmt.Println(err)
		return
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hello"))
			c.Close()
		}
	}()
	go nftEcho(pc)
	fmt.Println(port)
	bufio.NewReader(os.Stdin).ReadString('\n')
}

// nftServerIn starts the server role in cg, on addr, and returns its port.
func nftServerIn(t *testing.T, cg nftCgroup, addr netip.Addr) uint16 {
	t.Helper()
	fd, err := unix.Open(cg.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	cmd := nftHelper("server", addr.String())
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	var port uint16
	if _, err := fmt.Sscan(strings.TrimSpace(line), &port); err != nil {
		t.Fatalf("server in %s said %q", cg.dir, line)
	}
	return port
}

func TestNftRepliesToOthersPass(t *testing.T) {
	// A server in the cgroup, on its alias, answers a client outside it on
	// 127.0.0.1: the answers go to a refused destination, on a connection
	// the cgroup did not open. (The SYN-ACK passes anyway, having no full
	// socket: only data shows it.)
	if !nftInNetNS(t) {
		return
	}
	alias := netip.MustParseAddr("127.0.0.17")
	cg := nftNewCgroup(t, nil)
	nftMustInstall(t, HostFirewall(), Rules{CgroupID: cg.id, Level: cg.level, Alias: alias, Deny: loopbackTargets})
	srv := netip.AddrPortFrom(alias, nftServerIn(t, cg, alias))
	from := &net.TCPAddr{IP: net.ParseIP("127.0.0.1")}
	c, err := (&net.Dialer{LocalAddr: from, Timeout: 2 * time.Second}).Dial("tcp", srv.String())
	if err != nil {
		t.Fatalf("dial %v from 127.0.0.1: %v", srv, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if got, err := io.ReadAll(c); string(got) != "hello" {
		t.Errorf("TCP from 127.0.0.1 to the cgroup's server on %v read %q, %v, want \"hello\"", srv, got, err)
	}
	u, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.1")}, net.UDPAddrFromAddrPort(srv))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.SetDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 16)
	u.Write([]byte("ping"))
	if n, err := u.Read(buf); string(buf[:n]) != "ping" {
		t.Errorf("UDP from 127.0.0.1 to the cgroup's server on %v got %q, %v, want its echo", srv, buf[:n], err)
	}
}
