package lease

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"
)

// bootClock reads CLOCK_MONOTONIC, which on macOS counts time asleep,
// and names the boot by kern.boottime.
func bootClock() (time.Duration, bootID) {
	var ts unix.Timespec
	var id bootID
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, id
	}
	if tv, err := unix.SysctlTimeval("kern.boottime"); err == nil {
		binary.BigEndian.PutUint64(id[:8], uint64(tv.Sec))
		binary.BigEndian.PutUint64(id[8:], uint64(tv.Usec))
	}
	return time.Duration(ts.Nano()), id
}
