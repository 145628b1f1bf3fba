package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill cmd when the wrapper dies, however
// it dies (SIGKILL included), so that a command never outlives the lease
// it was started under. The signal is tied to the thread that forks, so
// the caller keeps its goroutine locked to that thread until Wait returns.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
