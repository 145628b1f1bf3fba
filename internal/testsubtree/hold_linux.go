package testsubtree

import (
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Hold counts this suite among those that may make dir (aliaslease's
// cgroup subtree) and returns what to call when the suite ends. The
// holder that creates the marker records whether dir was there; the
// release of the last holder removes dir when it was not there then
// (rmdir: never a subtree still in use) and the marker. Holding never
// waits for another holder (a test binary re-run as its own helper
// process holds it too, inside its parent's hold), only for a release
// in progress. "" holds nothing.
func Hold(dir string) (release func()) {
	if dir == "" {
		return func() {}
	}
	h := fnv.New64a()
	h.Write([]byte(dir))
	marker := filepath.Join(os.TempDir(), fmt.Sprintf("aliaslease-test-subtree-%016x", h.Sum64()))
	f, err := os.OpenFile(marker, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	first := err == nil
	if !first {
		f, err = os.OpenFile(marker, os.O_RDWR, 0o600)
	}
	if err != nil {
		return func() {}
	}
	fd := int(f.Fd())
	if unix.Flock(fd, unix.LOCK_SH) != nil {
		f.Close()
		return func() {}
	}
	if first {
		state := "made"
		if _, err := os.Stat(dir); err == nil {
			state = "existed"
		}
		f.WriteString(state)
	}
	return func() {
		defer f.Close()
		// Let go first, then see whether anyone else still holds it: two
		// suites ending at once cannot both find the other there.
		unix.Flock(fd, unix.LOCK_UN)
		if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) != nil {
			return // another suite runs; it removes what is left
		}
		b := make([]byte, 16)
		n, _ := f.ReadAt(b, 0)
		if string(b[:n]) == "made" {
			os.Remove(dir)
		}
		os.Remove(marker)
	}
}
