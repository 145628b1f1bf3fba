package safefile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gofrs/flock"
)

// Retry delays of a lock wait, doubling from the first to the last. With
// no watch (no inotify) they are short: a lock is usually held for about
// a millisecond, so a coarse delay would dominate under load. With a
// watch they are only the fallback for a release that closes no file
// opened for writing (an operator's flock(1), a reader that may not write
// the lock file, a killed holder whose close came before its lock went),
// so they are coarse.
const (
	pollFirst, pollLast         = 250 * time.Microsecond, 2 * time.Millisecond
	fallbackFirst, fallbackLast = 10 * time.Millisecond, 100 * time.Millisecond
)

// newReleaseWatch is watchRelease; tests replace it to wait by polling.
var newReleaseWatch = watchRelease

// waitLock takes the lock on f, shared or exclusive, within timeout; the
// wait ends early when ctx does. flock(2) needs no write access, so a
// reader on a read-only file system can lock too.
//
// A failed try is repeated as soon as the lock file is closed by a
// process that had it open for writing, as every holder of this package
// does right after it unlocks (see releaseWatch), else after a delay. A
// free lock is taken without a watch, which costs more than a try; once
// the watch is set the lock is tried again before any wait, so that a
// release between the first try and the watch is not a wake-up lost, and
// a later one is an event already queued.
//
// Descriptors: gofrs/flock's file is closed by lk.Close on every failure,
// or becomes the returned Lock's. The watch's inotify instance is closed
// before a failure returns; once the lock is taken its close is only
// begun, and the Lock's Unlock waits for it to end: the kernel's close of an inotify instance waits for a grace period
// (0.1-17 ms measured here), which would otherwise lengthen every hold.
func waitLock(ctx context.Context, f *os.File, timeout time.Duration, shared bool) (*Lock, error) {
	lk := flock.New(f.Name(), flock.SetFlag(lockFlags))
	lock := lk.TryLock
	if shared {
		lock = lk.TryRLock
	}
	try := func() (bool, error) {
		ok, err := lock()
		if err != nil {
			return false, fmt.Errorf("lock file %s: %w", f.Name(), err)
		}
		return ok, nil
	}
	var w *releaseWatch
	ok, err := try()
	if err == nil && !ok {
		if w = newReleaseWatch(f); w != nil {
			ok, err = try()
		}
		if err == nil && !ok {
			err = retry(ctx, f, try, w, timeout)
		}
	}
	h := &Lock{f: f, lk: lk}
	if err == nil {
		err = h.same()
	}
	if err != nil {
		lk.Close()
		w.close()
		w.wait()
		return nil, err
	}
	w.close()
	h.watch = w
	return h, nil
}

// retry waits for a release w sees, or a delay, and tries again, until a
// try succeeds (nil) or fails, or timeout or ctx ends the wait. With a
// watch the wait is a read of the inotify instance in this goroutine,
// bounded by a read deadline, which ctx's end moves to the past: a
// release wakes the waiter itself, not a reader that hands it on.
func retry(ctx context.Context, f *os.File, try func() (bool, error), w *releaseWatch, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	delay, last := pollFirst, pollLast
	if w != nil {
		delay, last = fallbackFirst, fallbackLast
		interrupted := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			w.interrupt()
			close(interrupted)
		})
		defer func() {
			if !stop() {
				<-interrupted // so that no goroutine of the wait outlives it
			}
		}()
	}
	for {
		next := time.Now().Add(delay)
		if next.After(deadline) {
			next = deadline
		}
		if w != nil {
			w.until(ctx, next)
		} else {
			sleepUntil(ctx, next)
		}
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("waiting for lock file %s: %w", f.Name(), ctx.Err())
		case !time.Now().Before(deadline):
			return fmt.Errorf("%w within %s: %s is held by another process", ErrLocked, timeout, f.Name())
		}
		if ok, err := try(); ok || err != nil {
			return err
		}
		delay = min(2*delay, last)
	}
}

// sleepUntil waits until t, or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// releaseWatch tells a lock waiter that the lock file was closed by a
// process that had it open for writing: a holder of this package unlocks,
// then closes its lock file, opened for writing wherever the file allows
// it (see Dir.Lock). Only such closes count: gofrs/flock opens and closes
// the file, read-only, on every failed try, so waking on any close would
// have each waiter wake itself and every other one, for as long as the
// lock is held. A nil releaseWatch (no inotify) is never waited on.
type releaseWatch struct {
	in     *os.File      // the inotify instance, non-blocking, in Go's poller
	buf    []byte        // the events are not looked into: any is a release
	closed chan struct{} // closed when close has closed in
}

// until waits for a release, until t or until interrupt, and says
// whether it saw one. The read waits in Go's poller, so it holds no
// thread. ctx is looked at after the deadline is set: an interrupt
// (ctx's end) before that is seen there, one after it moves the deadline.
// A read that fails otherwise waits out the delay instead, so that a
// broken instance never makes the wait spin.
func (w *releaseWatch) until(ctx context.Context, t time.Time) bool {
	if err := w.in.SetReadDeadline(t); err != nil {
		sleepUntil(ctx, t)
		return false
	}
	if ctx.Err() != nil {
		return false
	}
	n, err := w.in.Read(w.buf)
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		sleepUntil(ctx, t)
	}
	return err == nil && n > 0
}

// interrupt ends a wait in until at once.
func (w *releaseWatch) interrupt() { w.in.SetReadDeadline(time.Unix(1, 0)) }

// close begins to close the inotify instance, in the background; wait
// waits until it is done, so that nothing of the watch remains.
func (w *releaseWatch) close() {
	if w == nil {
		return
	}
	go func() {
		w.in.Close()
		close(w.closed)
	}()
}

// wait waits for what close began. Without a watch it returns at once.
func (w *releaseWatch) wait() {
	if w != nil {
		<-w.closed
	}
}
