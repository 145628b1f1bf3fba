// Command reach is what the run --confine tests run confined (and, to
// compare, unconfined): "reach TAG ITEM..." tries each ITEM in turn and
// prints one line "TAG ITEM RESULT" for it:
//
//	tcp:ADDR:PORT  connect and send "TAG\n"      ok, refused, eperm or the error
//	udp:ADDR:PORT  send "TAG\n" in one datagram  ok, eperm or the error
//	id             who it runs as: uid=N gid=N groups=N,... nnp=0|1 cgroup=PATH
//	nft-delete     delete aliaslease's nftables table        ok or the error
//	leave:FILE     write its own PID into FILE (cgroup.procs)  ok or the error
//	loop:DUR:tcp:ADDR:PORT  connect again and again for DUR, 1 ms apart;
//	               prints "TAG loop ok UNIXNANO" on each success, "TAG loop
//	               tried N UNIXNANO" every 100 tries, then "done_N"
//	sleep:DUR      sleep
//	tiocsti        push one byte into the input of its stdin's terminal  ok, eperm or the error
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/google/nftables"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: reach TAG ITEM...")
		os.Exit(2)
	}
	tag := os.Args[1]
	for _, item := range os.Args[2:] {
		fmt.Printf("%s %s %s\n", tag, item, do(tag, item))
	}
}

func do(tag, item string) string {
	kind, rest, _ := strings.Cut(item, ":")
	switch kind {
	case "tcp", "udp":
		return result(send(kind, rest, tag))
	case "id":
		return id()
	case "nft-delete":
		c, err := nftables.New()
		if err == nil {
			c.DelTable(&nftables.Table{Name: "aliaslease", Family: nftables.TableFamilyINet})
			err = c.Flush()
		}
		return result(err)
	case "leave":
		return result(os.WriteFile(rest, []byte(strconv.Itoa(os.Getpid())), 0))
	case "loop":
		d, target, _ := strings.Cut(rest, ":")
		return loop(tag, d, target)
	case "tiocsti":
		b := byte('#')
		_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, 0, syscall.TIOCSTI, uintptr(unsafe.Pointer(&b)))
		if errno != 0 {
			return result(errno)
		}
		return "ok"
	case "sleep":
		d, err := time.ParseDuration(rest)
		if err == nil {
			time.Sleep(d)
		}
		return result(err)
	}
	return "unknown item"
}

func send(proto, addr, tag string) error {
	c, err := net.DialTimeout(proto, addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(tag + "\n"))
	return err
}

func result(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.EPERM):
		return "eperm"
	}
	return strings.ReplaceAll(err.Error(), " ", "_")
}

func id() string {
	groups, _ := os.Getgroups()
	gs := make([]string, len(groups))
	for i, g := range groups {
		gs[i] = strconv.Itoa(g)
	}
	nnp := "?"
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "NoNewPrivs:"); ok {
				nnp = strings.TrimSpace(v)
			}
		}
	}
	cg := "?"
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if p, ok := strings.CutPrefix(l, "0::"); ok {
				cg = p
			}
		}
	}
	return fmt.Sprintf("uid=%d gid=%d groups=%s nnp=%s cgroup=%s", os.Getuid(), os.Getgid(), strings.Join(gs, ","), nnp, cg)
}

// loop connects to target until d has passed, 1 ms apart, and prints
// each success as it happens, so that a test can see when the tree could
// reach it.
func loop(tag, d, target string) string {
	dur, err := time.ParseDuration(d)
	if err != nil {
		return result(err)
	}
	addr, _ := strings.CutPrefix(target, "tcp:")
	n := 0
	for end := time.Now().Add(dur); time.Now().Before(end); n++ {
		if send("tcp", addr, tag) == nil {
			fmt.Printf("%s loop ok %d\n", tag, time.Now().UnixNano())
		}
		if n%100 == 99 {
			fmt.Printf("%s loop tried %d %d\n", tag, n+1, time.Now().UnixNano())
		}
		time.Sleep(time.Millisecond)
	}
	return "done_" + strconv.Itoa(n)
}
