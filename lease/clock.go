package lease

import "time"

// instant is one reading of the two clocks a verdict needs. The wall
// clock dates what is stored and shown (renewed_at, held_at,
// vacant_since). The boot-time clock measures how long a lease has been
// vacant, since a wall-clock step (NTP, a laptop waking) cannot move it;
// its readings compare only within one boot, which boot names.
type instant struct {
	wall time.Time
	boot time.Duration // since boot, time asleep included
	id   bootID
}

// bootID names one boot of the host; the zero value is a boot whose
// name could not be read (then a reading lower than an earlier one is
// taken as a later boot).
type bootID [16]byte

// since says how long ago, by the boot-time clock, an earlier reading
// (boot, id) was, and whether it can be told: false when the reading is
// of another boot.
func (t instant) since(boot time.Duration, id bootID) (time.Duration, bool) {
	if id != t.id || boot > t.boot {
		return 0, false
	}
	return t.boot - boot, true
}

// now reads both clocks, through the test seam where it is compiled in.
func readClocks(wall time.Time) instant {
	boot, id := bootClock()
	return stepClocks(instant{wall: wall, boot: boot, id: id})
}
