package safefile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/sys/unix"
)

// Lock is a lock file taken with gofrs/flock: f is the file this package
// opened and checked (fd-relative, no link followed, owner and link count
// vetted), lk the flock on it, opened by gofrs/flock by path without
// following a link and checked to be that same file.
type Lock struct {
	f  *os.File
	lk *flock.Flock
}

// LockOptions say how Dir.Lock takes a lock file.
type LockOptions struct {
	// Shared takes a shared lock on a file opened read-only, instead of
	// an exclusive one on a file opened for writing.
	Shared bool
	// Create makes the lock file when it is missing (after Vet).
	Create bool
	// Timeout bounds the wait for the lock (ErrLocked after it).
	Timeout time.Duration
	// Vet is called before a missing lock file is made; its error is
	// returned and nothing is made.
	Vet func() error
}

// lockFlags open a lock file for gofrs/flock: never following a link, never
// blocking on a FIFO planted there, never creating (this package creates
// lock files itself, fd-relative).
const lockFlags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC

// Lock takes the lock file name in d: shared or exclusive as o says, and
// returns it (nil when there is no lock file and none may be made).
//
// Only with o.Create is a lock file made, and only once o.Vet passed, so
// that a caller can keep lock files from appearing beside a path that is
// not a database. Without a lock file (a database made by something else,
// or whose lock was removed) the caller relies on bbolt's own flock of the
// database file, which serialises writers and keeps readers from a torn
// view just the same; only an operator's `flock <db>.lock` has nothing to
// hold then.
func (d *Dir) Lock(ctx context.Context, name string, o LockOptions) (*Lock, error) {
	for range 3 {
		flag := unix.O_RDWR
		if o.Shared {
			// flock needs no write access: a reader of a database on a
			// read-only file system can still take the shared lock.
			flag = unix.O_RDONLY
		}
		f, _, err := d.OpenAt(name, flag, "lock file")
		switch {
		case err == nil:
			h, err := waitLock(ctx, f, o.Timeout, o.Shared)
			if err != nil {
				f.Close()
				return nil, err
			}
			return h, nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		case !o.Create:
			return nil, nil
		}
		if err := o.Vet(); err != nil {
			return nil, err
		}
		if err := createLock(d, name); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("lock file %s keeps disappearing", filepath.Join(d.path, name))
}

// File is the lock file, open for reading (and for writing unless the
// lock is shared), for a record of its holder.
func (h *Lock) File() *os.File { return h.f }

// Unlock releases and closes the lock. A nil Lock is a no-op.
func (h *Lock) Unlock() error {
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

// Probe says whether some process holds the lock on f, a lock file opened
// with OpenAt, without waiting: it takes and at once releases a shared
// lock. path names the lock file in the message of a failed lock call.
func Probe(f *os.File, path string) (held bool, err error) {
	lk := flock.New(f.Name(), flock.SetFlag(lockFlags))
	defer lk.Close()
	ok, err := lk.TryRLock()
	if err != nil {
		return false, fmt.Errorf("lock file %s: %w", path, err)
	}
	if err := (&Lock{f: f, lk: lk}).same(); err != nil {
		return false, err
	}
	if ok {
		lk.Unlock()
	}
	return !ok, nil
}

// createLock makes the lock file name in d: O_EXCL, without following a
// link, 0600 whatever the umask (set on the descriptor). It is
// fs.ErrExist when something is there already.
func createLock(d *Dir, name string) error {
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

// waitLock takes the lock on f, shared or exclusive, within timeout; the
// wait ends early when ctx does. flock(2) needs no write access, so a
// reader on a read-only file system can lock too.
func waitLock(ctx context.Context, f *os.File, timeout time.Duration, shared bool) (*Lock, error) {
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
	h := &Lock{f: f, lk: lk}
	if err := h.same(); err != nil {
		h.lk.Unlock()
		h.lk.Close()
		return nil, err
	}
	return h, nil
}

// same checks that the file gofrs/flock locked by path is the file this
// package opened and vetted: a swap in between is refused, not trusted.
func (h *Lock) same() error {
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
