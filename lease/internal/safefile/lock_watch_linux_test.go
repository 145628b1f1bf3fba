package safefile

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestReleaseWatch: the watch wakes on the close of a lock file opened
// for writing, as a holder of this package closes it after unlocking, and
// not on the close of one opened read-only, as every failed try of
// gofrs/flock opens and closes it.
func TestReleaseWatch(t *testing.T) {
	d := lockDir(t)
	f, _, err := d.OpenAt(lockName, os.O_RDONLY, "lock file")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := watchRelease(f)
	if w == nil {
		t.Fatal("watchRelease = nil on Linux, want an inotify watch")
	}
	defer w.close()
	for _, tt := range []struct {
		flag int
		wake bool
	}{{os.O_RDONLY, false}, {os.O_RDWR, true}, {os.O_RDONLY, false}} {
		g, _, err := d.OpenAt(lockName, tt.flag, "lock file")
		if err != nil {
			t.Fatal(err)
		}
		g.Close()
		if woke := w.until(context.Background(), time.Now().Add(100*time.Millisecond)); woke != tt.wake {
			t.Errorf("close of the lock file opened with flags %#x: woke = %v, want %v", tt.flag, woke, tt.wake)
		}
	}
}

// TestSharedLockOpenForWriting: a shared lock's file is opened for
// writing where the file allows it, so that its release wakes a writer
// waiting (TestReleaseWatch), as an exclusive one's does.
func TestSharedLockOpenForWriting(t *testing.T) {
	d := lockDir(t)
	for _, shared := range []bool{true, false} {
		h, err := d.Lock(context.Background(), lockName, LockOptions{Shared: shared, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		fl, err := unix.FcntlInt(h.File().Fd(), unix.F_GETFL, 0)
		if err != nil || fl&unix.O_ACCMODE != unix.O_RDWR {
			t.Errorf("Lock(%s, shared=%v): file flags %#x, %v, want it open for writing", lockName, shared, fl, err)
		}
		h.Unlock()
	}
}

// TestRetryBrokenWatch: a watch whose reads fail (here, an instance
// already closed) waits out each delay instead of spinning: the wait ends
// at its timeout, ErrLocked, after a few tries, not thousands.
func TestRetryBrokenWatch(t *testing.T) {
	d := lockDir(t)
	f, _, err := d.OpenAt(lockName, os.O_RDONLY, "lock file")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := watchRelease(f)
	if w == nil {
		t.Fatal("watchRelease = nil on Linux, want an inotify watch")
	}
	w.in.Close()
	tries := 0
	try := func() (bool, error) { tries++; return false, nil }
	err = retry(context.Background(), f, try, w, 300*time.Millisecond)
	if !errors.Is(err, ErrLocked) || tries > 10 {
		t.Errorf("retry with a broken watch = %v after %d tries, want ErrLocked after a few", err, tries)
	}
}
