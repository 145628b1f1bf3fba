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
	f     *os.File
	lk    *flock.Flock
	watch *releaseWatch // the wait's, closing; nil when none
}

// LockOptions say how Dir.Lock takes a lock file.
type LockOptions struct {
	// Shared takes a shared lock instead of an exclusive one.
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
		// Open for writing, shared or not, where the file allows it: the
		// close of such a file is what wakes waiters (see waitLock). flock
		// needs no write access, so a reader of a database on a read-only
		// file system, or of a lock file it may not write, opens it
		// read-only and can still take the shared lock.
		f, _, err := d.OpenAt(name, unix.O_RDWR, "lock file")
		if o.Shared && (errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EROFS)) {
			f, _, err = d.OpenAt(name, unix.O_RDONLY, "lock file")
		}
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

// File is the lock file, open for reading (and for writing, always for an
// exclusive lock), for a record of its holder.
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
	h.watch.wait() // after the release, so that no one waits for it
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
