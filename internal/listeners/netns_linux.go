package listeners

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Fixed inode numbers of the initial namespaces (linux/nsfs.h). The pid
// one is as old as namespace files (3.8); the net one came with 6.18:
// before it the initial network namespace had a dynamic number, as every
// other network namespace still has (0xF0000000 and up).
const (
	pidNSInitIno = 0xEFFFFFFC
	netNSInitIno = 0xEFFFFFF9
)

func hostNetns() (same, known bool, err error) {
	self, err := nsIno("/proc/self/ns/net")
	if err != nil {
		return false, false, fmt.Errorf("listeners: network namespace: %w", err)
	}
	pidns, pidErr := nsIno("/proc/self/ns/pid")
	return netnsVerdict(self, kernelAtLeast(6, 18), pidErr == nil && pidns == pidNSInitIno,
		func() (uint64, error) { return nsIno("/proc/1/ns/net") })
}

// netnsVerdict decides from this process's network namespace inode
// (self), whether the kernel numbers the initial one (fixed), whether this
// process is in the initial PID namespace, and init's network namespace.
func netnsVerdict(self uint64, fixed, initPID bool, initNet func() (uint64, error)) (same, known bool, err error) {
	switch {
	case self == netNSInitIno:
		return true, true, nil
	case fixed:
		return false, true, nil
	case !initPID:
		// PID 1 is a container's own init: its namespace proves nothing.
		return false, false, nil
	}
	ino, err := initNet()
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist) {
		return false, false, nil // not root: init's namespace is not ours to see
	}
	if err != nil {
		return false, false, fmt.Errorf("listeners: init's network namespace: %w", err)
	}
	return self == ino, true, nil
}

func nsIno(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	return st.Ino, nil
}

// kernelAtLeast compares the running kernel's release with major.minor.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	return releaseAtLeast(unix.ByteSliceToString(u.Release[:]), major, minor)
}

// releaseAtLeast parses "6.18.44-fc-v1045" and compares it.
func releaseAtLeast(release string, major, minor int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	digits := strings.IndexFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
	if digits < 0 {
		digits = len(parts[1])
	}
	mi, err2 := strconv.Atoi(parts[1][:digits])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}
