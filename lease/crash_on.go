//go:build aliaslease_crash

package lease

import (
	"os"
	"syscall"
)

// crashPoint kills the process with SIGKILL when ALIASLEASE_CRASH names
// this point, so the reliability suite can stop a run exactly there, the
// way bbolt's tests use gofail. Built only with the aliaslease_crash tag.
func crashPoint(name string) {
	if os.Getenv("ALIASLEASE_CRASH") == name {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
}
