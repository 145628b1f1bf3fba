// Command holder is the whole of the test image: it listens on :8080 (so
// that published ports have something behind them), or with the argument
// "exit" it exits at once, leaving an exited container behind.
package main

import (
	"net"
	"os"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "exit" {
		return
	}
	ln, err := net.Listen("tcp", ":8080")
	if err != nil {
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		c.Write([]byte("holder\n"))
		c.Close()
	}
}
