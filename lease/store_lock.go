package lease

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gofrs/flock"
)

// recordHolder writes who holds the exclusive lock, and since when, into
// the lock file, so that a health report can name a stuck holder. It is
// best effort: the lock, not this record, is what excludes others.
func recordHolder(path, command string) {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer f.Close()
	// One fixed-size write in place: no truncation, so the file's size,
	// and with it the file system's metadata, stays put after the first.
	rec := fmt.Sprintf("pid=%d since=%s command=%s", os.Getpid(), time.Now().UTC().Format(time.RFC3339Nano), command)
	f.WriteAt([]byte(fmt.Sprintf("%-*.*s\n", lockRecordLen-1, lockRecordLen-1, rec)), 0)
}

// lockRecordLen is the size of the holder record in the lock file.
const lockRecordLen = 128

// LockState is what LockStatus found out about a lock file.
type LockState struct {
	Path string
	// Held is whether some process holds the lock now.
	Held bool
	// PID, Since and Command are the last aliaslease holder's record, set
	// when Held and that process is still alive; a holder that is not
	// aliaslease (an operator's flock, say) leaves them zero.
	PID     int
	Since   time.Time
	Command string
}

// LockStatus reports whether the lock of the database at dbPath is held,
// and by which aliaslease process when it recorded itself. It never
// waits and creates nothing.
func LockStatus(dbPath string) (LockState, error) {
	st := LockState{Path: dbPath + ".lock"}
	fi, err := os.Lstat(st.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if !fi.Mode().IsRegular() {
		return st, fmt.Errorf("lock file %s is not a regular file (%s)", st.Path, fi.Mode().Type())
	}
	lk := flock.New(st.Path, flock.SetFlag(os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK))
	ok, err := lk.TryRLock()
	if err != nil {
		return st, fmt.Errorf("lock file %s: %w", st.Path, err)
	}
	if ok {
		lk.Unlock()
		return st, nil
	}
	st.Held = true
	b, err := os.ReadFile(st.Path)
	if err != nil {
		return st, nil
	}
	var pid int
	var since time.Time
	var command string
	for _, f := range strings.Fields(string(b)) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "pid":
			pid, _ = strconv.Atoi(v)
		case "since":
			since, _ = time.Parse(time.RFC3339Nano, v)
		case "command":
			command = v
		}
	}
	// The record outlives its writer; only a live writer can be the holder.
	if pid > 0 && (syscall.Kill(pid, 0) == nil || errors.Is(syscall.Kill(pid, 0), syscall.EPERM)) {
		st.PID, st.Since, st.Command = pid, since, command
	}
	return st, nil
}
