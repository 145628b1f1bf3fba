package lease

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/sys/unix"
)

// lockRecordLen is the size of the holder record in the lock file.
const lockRecordLen = 128

// lockSuffix names the lock file beside the database.
const lockSuffix = ".lock"

// recordHolder writes who holds the exclusive lock, and since when, into
// the lock file f, so that a health report can name a stuck holder. It
// writes only into a file that is empty or already holds a record (whole,
// or as a power cut leaves one: zeros, or cut short), in place and never
// past lockRecordLen bytes. It is best effort: the lock, not this record,
// is what excludes others.
func recordHolder(f *os.File, command string) {
	i, err := fstat(int(f.Fd()))
	if err != nil || i.size > lockRecordLen {
		return
	}
	b := make([]byte, i.size)
	if n, _ := f.ReadAt(b, 0); int64(n) != i.size || !isHolderRecord(b) {
		return
	}
	// One fixed-size write in place: no truncation, so the file's size,
	// and with it the file system's metadata, stays put after the first.
	rec := fmt.Sprintf("pid=%d since=%s command=%s", os.Getpid(), time.Now().UTC().Format(time.RFC3339Nano), command)
	f.WriteAt([]byte(fmt.Sprintf("%-*.*s\n", lockRecordLen-1, lockRecordLen-1, rec)), 0)
}

// isHolderRecord says whether b, a lock file's content, is a holder
// record or what is left of one: nothing, zeros, or a record's start.
func isHolderRecord(b []byte) bool {
	return len(b) <= lockRecordLen && (bytes.HasPrefix(b, []byte("pid=")) || len(bytes.Trim(b, "\x00")) == 0)
}

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

// lockStatus reports whether the lock of the database at dbPath is held,
// and by which aliaslease process when it recorded itself. It never
// waits and creates nothing; a lock file the ownership rules refuse is
// an error.
func lockStatus(dbPath string) (LockState, error) {
	st := LockState{Path: dbPath + lockSuffix}
	d, err := openDir(filepath.Dir(dbPath), false)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	defer d.close()
	f, _, err := openAt(d, filepath.Base(st.Path), unix.O_RDONLY, "lock file")
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	defer f.Close()
	lk := flock.New(f.Name(), flock.SetFlag(lockFlags))
	defer lk.Close()
	ok, err := lk.TryRLock()
	if err != nil {
		return st, fmt.Errorf("lock file %s: %w", st.Path, err)
	}
	if err := (&heldLock{f: f, lk: lk}).same(); err != nil {
		return st, err
	}
	if ok {
		lk.Unlock()
		return st, nil
	}
	st.Held = true
	b := make([]byte, lockRecordLen)
	n, _ := f.ReadAt(b, 0)
	pid, since, command := parseHolder(b[:n])
	// The record outlives its writer; only a live writer can be the holder.
	if pid > 0 && processAlive(pid) {
		st.PID, st.Since, st.Command = pid, since, command
	}
	return st, nil
}

func parseHolder(b []byte) (pid int, since time.Time, command string) {
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
	return pid, since, command
}

// createLock makes the lock file name in d: O_EXCL, without following a
// link, 0600 whatever the umask (set on the descriptor). It is
// fs.ErrExist when something is there already.
func createLock(d *dirHandle, name string) error {
	fd, err := unix.Openat(d.fd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &fs.PathError{Op: "create", Path: filepath.Join(d.path, name), Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Fchmod(fd, 0o600); err != nil {
		return &fs.PathError{Op: "chmod", Path: filepath.Join(d.path, name), Err: err}
	}
	return nil
}

// heldLock is a lock file taken with gofrs/flock: f is the file this
// package opened and checked (fd-relative, no link followed, owner and
// link count vetted), lk the flock on it, opened by gofrs/flock by path
// without following a link and checked to be that same file.
type heldLock struct {
	f  *os.File
	lk *flock.Flock
}

// lockFlags open a lock file for gofrs/flock: never following a link, never
// blocking on a FIFO planted there, never creating (this package creates
// lock files itself, fd-relative).
const lockFlags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC

// waitLock takes the lock on f, shared or exclusive, within timeout; the
// wait ends early when ctx does. flock(2) needs no write access, so a
// reader on a read-only file system can lock too.
func waitLock(ctx context.Context, f *os.File, timeout time.Duration, shared bool) (*heldLock, error) {
	lk := flock.New(f.Name(), flock.SetFlag(lockFlags))
	try := lk.TryLock
	if shared {
		try = lk.TryRLock
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	// Poll with a short, growing delay: a lock is usually held for about
	// a millisecond, so a fixed coarse delay would dominate under load.
	delay := 250 * time.Microsecond
	for {
		ok, err := try()
		if err != nil {
			lk.Close()
			return nil, fmt.Errorf("lock file %s: %w", f.Name(), err)
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			lk.Close()
			return nil, fmt.Errorf("waiting for lock file %s: %w", f.Name(), ctx.Err())
		case <-deadline.C:
			lk.Close()
			return nil, fmt.Errorf("%w within %s: %s is held by another process", ErrLocked, timeout, f.Name())
		case <-time.After(delay):
		}
		if delay < 2*time.Millisecond {
			delay *= 2
		}
	}
	h := &heldLock{f: f, lk: lk}
	if err := h.same(); err != nil {
		h.lk.Unlock()
		h.lk.Close()
		return nil, err
	}
	return h, nil
}

// same checks that the file gofrs/flock locked by path is the file this
// package opened and vetted: a swap in between is refused, not trusted.
func (h *heldLock) same() error {
	locked, err := h.lk.Stat()
	if err != nil {
		return fmt.Errorf("lock file %s: %w", h.f.Name(), err)
	}
	opened, err := h.f.Stat()
	if err != nil {
		return fmt.Errorf("lock file %s: %w", h.f.Name(), err)
	}
	if !os.SameFile(locked, opened) {
		return fmt.Errorf("%w: lock file %s was replaced while it was being locked", ErrUnsafePath, h.f.Name())
	}
	return nil
}

// lockDB takes the lock file of the database base in d: shared for a
// read-only open, exclusive otherwise, and returns it (nil when there is
// no lock file and none may be made).
//
// Only a creating open makes a lock file, and only where no database is
// yet or beside one that passes every check (vet), so that no lock file
// appears beside a path that is not a database. Without a lock file
// (a database made by something else, or whose lock was removed) the
// other opens rely on bbolt's own flock of the database file, which
// serialises writers and keeps readers from a torn view just the same;
// only an operator's `flock <db>.lock` has nothing to hold then.
func lockDB(ctx context.Context, d *dirHandle, base string, o storeOptions, vet func() error) (*heldLock, error) {
	name := base + lockSuffix
	for range 3 {
		flag := unix.O_RDWR
		if o.ReadOnly {
			// flock needs no write access: a reader of a database on a
			// read-only file system can still take the shared lock.
			flag = unix.O_RDONLY
		}
		f, _, err := openAt(d, name, flag, "lock file")
		switch {
		case err == nil:
			h, err := waitLock(ctx, f, o.LockTimeout, o.ReadOnly)
			if err != nil {
				f.Close()
				return nil, err
			}
			if !o.ReadOnly {
				recordHolder(f, o.Command)
			}
			return h, nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		case !o.Create:
			return nil, nil
		}
		if err := vet(); err != nil {
			return nil, err
		}
		if err := createLock(d, name); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("lock file %s keeps disappearing", filepath.Join(d.path, name))
}

// unlock releases and closes a lock file taken by lockDB.
func unlock(h *heldLock) error {
	if h == nil {
		return nil
	}
	err := h.lk.Unlock()
	h.lk.Close()
	if cerr := h.f.Close(); err == nil {
		err = cerr
	}
	return err
}
