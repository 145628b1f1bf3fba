//go:build linux

// A bridge with a container behind it, inside a test's own network
// namespace: what Docker's networks look like to a confined process.

package confine

import (
	"bufio"
	"fmt"
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

// nftBridge makes the bridge nftbr0 (10.213.7.1/24) with one veth port
// whose other end is in a container's network namespace (10.213.7.2,
// serving TCP and UDP on port 7002). It returns the bridge's address and
// the container's service; only call it in a test's own network namespace.
func nftBridge(t *testing.T) (bridge netip.Addr, container netip.AddrPort) {
	t.Helper()
	nftRun(t, "ip", "link", "add", "nftbr0", "type", "bridge")
	nftRun(t, "ip", "addr", "add", "10.213.7.1/24", "dev", "nftbr0")
	nftRun(t, "ip", "link", "set", "nftbr0", "up")
	nftRun(t, "ip", "link", "add", "nftv0", "type", "veth", "peer", "name", "nftv1")
	nftRun(t, "ip", "link", "set", "nftv0", "master", "nftbr0", "up")
	cmd := nftHelper("container", "nftv1 10.213.7.2/24 7002")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
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
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	nftRun(t, "ip", "link", "set", "nftv1", "netns", strconv.Itoa(cmd.Process.Pid))
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("container: %q, %v", line, err)
	}
	return netip.MustParseAddr("10.213.7.1"), netip.MustParseAddrPort("10.213.7.2:7002")
}

// nftContainer is the container role: in a network namespace of its own,
// it waits for the veth end named in arg ("IFNAME ADDR/BITS PORT") to be
// moved in, configures it, serves on ADDR:PORT and says "ready" until its
// stdin closes.
func nftContainer(arg string) {
	f := strings.Fields(arg)
	for range 500 {
		if _, err := net.InterfaceByName(f[0]); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, args := range [][]string{{"addr", "add", f[1], "dev", f[0]}, {"link", "set", f[0], "up"}, {"link", "set", "lo", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			fmt.Printf("ip %v: %v %s\n", args, err, out)
			return
		}
	}
	addr := strings.Split(f[1], "/")[0]
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, f[2]))
	if err != nil {
		fmt.Println(err)
		return
	}
	pc, err := net.ListenPacket("udp", net.JoinHostPort(addr, f[2]))
	if err != nil {
		fmt.Println(err)
		return
	}
	nftServeOn(ln, pc)
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
}
