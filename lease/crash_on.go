//go:build aliaslease_crash

package lease

import (
	"os"
	"syscall"
	"time"
)

// crashPoint kills the process with SIGKILL when ALIASLEASE_CRASH names
// this point, so the reliability suite can stop a run exactly there, the
// way bbolt's tests use gofail. Built only with the aliaslease_crash tag.
func crashPoint(name string) {
	if os.Getenv("ALIASLEASE_CRASH") == name {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
}

// stepClocks moves the clocks as the reliability suite says:
// ALIASLEASE_TEST_WALL_STEP steps the wall clock (as NTP or a laptop
// waking would) and ALIASLEASE_TEST_BOOT_STEP the boot-time clock, each by
// a Go duration. Built only with the aliaslease_crash tag.
func stepClocks(t instant) instant {
	if d, err := time.ParseDuration(os.Getenv("ALIASLEASE_TEST_WALL_STEP")); err == nil {
		t.wall = t.wall.Add(d)
	}
	if d, err := time.ParseDuration(os.Getenv("ALIASLEASE_TEST_BOOT_STEP")); err == nil {
		t.boot += d
	}
	return t
}
