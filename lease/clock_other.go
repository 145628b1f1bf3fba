//go:build !linux && !darwin

package lease

import "time"

// processStart stands in for a boot-time clock where none is read: the
// time since this process started cannot compare across processes, so
// every reading is its own boot and no vacancy ever spans two commands.
var processStart = time.Now()

func bootClock() (time.Duration, bootID) {
	var id bootID
	n := processStart.UnixNano()
	for i := range 8 {
		id[i] = byte(n >> (8 * i))
	}
	return time.Since(processStart), id
}
