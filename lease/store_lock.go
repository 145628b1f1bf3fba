package lease

import (
	"context"
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

// lockFile takes the exclusive (or shared) lock on path within timeout.
// The lock file must be a regular file: a symlink, FIFO or directory
// planted there is refused rather than followed or blocked on.
func lockFile(ctx context.Context, path string, timeout time.Duration, shared bool, command string) (*flock.Flock, error) {
	fi, err := os.Lstat(path)
	existed := err == nil
	if existed && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("lock file %s is not a regular file (%s); remove it", path, fi.Mode().Type())
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	flag := os.O_CREATE | os.O_RDWR | syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	if existed && shared {
		// flock needs no write access: a reader of a database on a
		// read-only file system can still take the shared lock.
		flag = os.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	}
	lk := flock.New(path, flock.SetFlag(flag), flock.SetPermissions(0o600))
	try := lk.TryLock
	if shared {
		try = lk.TryRLock
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	// Poll with a short, growing delay: a lock is usually held for about
	// a millisecond, so a fixed coarse delay would dominate under load.
	delay := 500 * time.Microsecond
	for {
		ok, err := try()
		if err != nil {
			return nil, fmt.Errorf("lock file %s: %w", path, err)
		}
		if ok {
			// A lock file just created got 0600 less the umask; files
			// aliaslease creates are 0600 whatever the umask.
			if !existed {
				if err := os.Chmod(path, 0o600); err != nil {
					lk.Unlock()
					return nil, fmt.Errorf("lock file %s: %w", path, err)
				}
			}
			if !shared {
				recordHolder(path, command)
			}
			return lk, nil
		}
		select {
		case <-ctx.Done():
			lk.Close()
			return nil, fmt.Errorf("waiting for lock file %s: %w", path, ctx.Err())
		case <-deadline.C:
			lk.Close()
			return nil, fmt.Errorf("%w within %s: %s is held by another process", ErrLocked, timeout, path)
		case <-time.After(delay):
		}
		if delay < 8*time.Millisecond {
			delay *= 2
		}
	}
}
