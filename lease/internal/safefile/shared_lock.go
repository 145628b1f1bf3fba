package safefile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// LockPlace takes the exclusive lock of the shared place d: a flock(2) of
// the directory itself, through the descriptor OpenShared vetted, so
// that there is no lock file in it for anyone to swap, and the group
// needs no file it may write. The wait polls with short delays (250 µs
// doubling to 2 ms; no inotify event tells a directory's release), since
// the lock is held for about a millisecond. It ends with ErrLocked after
// timeout, or with ctx's error. The lock goes with the returned unlock,
// or with d's close.
func (d *Dir) LockPlace(ctx context.Context, timeout time.Duration) (unlock func(), err error) {
	deadline := time.Now().Add(timeout)
	delay := pollFirst
	for {
		err := unix.Flock(d.fd, unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return func() { unix.Flock(d.fd, unix.LOCK_UN) }, nil
		case !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR):
			return nil, fmt.Errorf("lock %s: %w", d.path, err)
		case !time.Now().Before(deadline):
			return nil, fmt.Errorf("%w: shared place %s is locked by another process", ErrLocked, d.path)
		}
		t := time.NewTimer(min(delay, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, pollLast)
	}
}
