package lease

import (
	"encoding/hex"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// bootClock reads CLOCK_BOOTTIME (which counts time suspended, unlike
// CLOCK_MONOTONIC) and the kernel's random boot id.
func bootClock() (time.Duration, bootID) {
	var ts unix.Timespec
	var id bootID
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0, id
	}
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		if raw, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")); err == nil && len(raw) == len(id) {
			copy(id[:], raw)
		}
	}
	return time.Duration(ts.Nano()), id
}
