//go:build !linux

package main

import (
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"runtime"

	"github.com/aliaslease/aliaslease/lease"
)

// startConfined cannot confine here: only Linux has the cgroups and the
// firewall it needs (prepare already refused; this keeps the build whole).
func startConfined(*exec.Cmd, lease.ProcessHolder, netip.Addr, *confineSpec, io.Writer) (*runTree, error) {
	return nil, fmt.Errorf("run --confine: %w: aliaslease confines on Linux only, not on %s", errConfine, runtime.GOOS)
}
