// Command listener is the command that the "aliaslease run" tests run: it
// listens on an ephemeral port of $ALIASLEASE_ALIAS, prints
// "ready HOST:PORT PID" and serves until it is killed. With -orphan it
// first clears the parent-death signal run gave it (Linux), so that it
// outlives a killed wrapper as a command does where the kernel offers no
// such signal (macOS), or as one that clears it. With -idle it listens
// on nothing (prints "ready - PID") and sleeps until it is killed: a
// process of a run's tree that no listener scan sees.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

func main() {
	orphan := flag.Bool("orphan", false, "clear the parent-death signal first")
	idle := flag.Bool("idle", false, "listen on nothing, only sleep")
	flag.Parse()
	if *orphan {
		if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, 0, 0); errno != 0 {
			fmt.Fprintln(os.Stderr, "prctl:", errno)
			os.Exit(1)
		}
	}
	if *idle {
		fmt.Printf("ready - %d\n", os.Getpid())
		for {
			time.Sleep(time.Hour)
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(os.Getenv("ALIASLEASE_ALIAS"), "0"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("ready %s %d\n", ln.Addr(), os.Getpid())
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		c.Write([]byte("listener\n"))
		c.Close()
	}
}
