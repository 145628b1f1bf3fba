package safefile

import (
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// watchRelease watches f, an open lock file, for closes of a file opened
// for writing (IN_CLOSE_WRITE). The watch is added through /proc/self/fd,
// so that it is on that very file, not on a path that could be swapped.
// It is nil where that fails (no /proc, the per-user limit of inotify
// instances reached, an instance Go's poller cannot wait on): the wait
// then polls.
func watchRelease(f *os.File) *releaseWatch {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil
	}
	if _, err := unix.InotifyAddWatch(fd, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.IN_CLOSE_WRITE); err != nil {
		unix.Close(fd)
		return nil
	}
	in := os.NewFile(uintptr(fd), "inotify")
	// Only a file in the poller takes a deadline; one outside it would
	// block a thread in read(2) that closing could not end.
	if err := in.SetReadDeadline(time.Time{}); err != nil {
		in.Close()
		return nil
	}
	return &releaseWatch{in: in, buf: make([]byte, 4096), closed: make(chan struct{})}
}
