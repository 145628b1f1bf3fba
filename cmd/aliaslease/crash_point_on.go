//go:build aliaslease_crash

package main

import (
	"os"
	"syscall"
)

// crashAt kills the process with SIGKILL when ALIASLEASE_CRASH names this
// point, so the reliability suite can stop a command exactly there. Built
// only with the aliaslease_crash tag.
func crashAt(name string) {
	if os.Getenv("ALIASLEASE_CRASH") == name {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
}
