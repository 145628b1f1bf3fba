package safefile

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

const lockName = "leases.db.lock"

// lockDir opens a fresh directory holding an empty lock file.
func lockDir(t testing.TB) *Dir {
	t.Helper()
	d, err := OpenDir(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	if err := createLock(d, lockName); err != nil {
		t.Fatal(err)
	}
	return d
}

// polling makes lock waits poll, as where inotify is not available, until
// the test ends.
func polling(t testing.TB) {
	newReleaseWatch = func(*os.File) *releaseWatch { return nil }
	t.Cleanup(func() { newReleaseWatch = watchRelease })
}

// openFDs lists this process's open descriptors with what they are.
func openFDs(t testing.TB) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	var fds []string
	for _, e := range ents {
		target, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		fds = append(fds, e.Name()+" "+target)
	}
	sort.Strings(fds)
	return fds
}

// leavesNothing runs f and fails the test if it left a descriptor open or
// a goroutine running (goroutines are given a moment to end).
func leavesNothing(t *testing.T, what string, f func()) {
	t.Helper()
	fds, goroutines := openFDs(t), runtime.NumGoroutine()
	f()
	if after := openFDs(t); !slices.Equal(fds, after) {
		t.Errorf("%s: descriptors opened and left open %q, closed %q", what, missing(after, fds), missing(fds, after))
	}
	n := runtime.NumGoroutine()
	for end := time.Now().Add(time.Second); n > goroutines && time.Now().Before(end); n = runtime.NumGoroutine() {
		time.Sleep(time.Millisecond)
	}
	if n > goroutines {
		t.Errorf("%s: %d goroutines before, %d after", what, goroutines, n)
	}
}

// missing lists the entries of a that b lacks.
func missing(a, b []string) []string {
	var m []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			m = append(m, x)
		}
	}
	return m
}

// holder is a way to hold a lock file from outside the wait: release
// ends the hold.
type holder struct {
	name string
	hold func(t *testing.T, d *Dir) (release func())
}

func holders() []holder {
	own := func(shared bool) func(t *testing.T, d *Dir) func() {
		return func(t *testing.T, d *Dir) func() {
			h, err := d.Lock(context.Background(), lockName, LockOptions{Shared: shared, Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			return func() { h.Unlock() }
		}
	}
	return []holder{
		{"this package, exclusive", own(false)},
		{"this package, shared", own(true)},
		{"flock(1)", func(t *testing.T, d *Dir) func() {
			if _, err := exec.LookPath("flock"); err != nil {
				t.Skip("flock(1) not installed")
			}
			path := filepath.Join(d.Path(), lockName)
			// flock(1) holds the lock until its command reads a line.
			cmd := exec.Command("flock", path, "head", "-n1")
			in, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			for {
				f, _, err := d.OpenAt(lockName, os.O_RDONLY, "lock file")
				if err != nil {
					t.Fatal(err)
				}
				held, err := Probe(f, path)
				f.Close()
				if err != nil || held {
					break
				}
				time.Sleep(time.Millisecond)
			}
			return func() { in.Write([]byte("\n")); in.Close(); cmd.Wait() }
		}},
	}
}

// TestWaitLockAfterRelease: a waiter, shared or exclusive, gets the lock
// once the holder releases it, not before, within its timeout, whoever
// held it and whether it waits with inotify or by polling; and it leaves
// no descriptor or goroutine behind.
func TestWaitLockAfterRelease(t *testing.T) {
	for _, mode := range []string{"inotify", "polling"} {
		for _, hd := range holders() {
			for _, shared := range []bool{false, true} {
				if shared && strings.HasSuffix(hd.name, "shared") {
					continue // a shared waiter does not wait for a reader
				}
				t.Run(mode+"/"+hd.name+"/shared="+map[bool]string{false: "no", true: "yes"}[shared], func(t *testing.T) {
					if mode == "polling" {
						polling(t)
					}
					d := lockDir(t)
					leavesNothing(t, "a wait that got the lock", func() {
						release := hd.hold(t, d)
						released := make(chan time.Time, 1)
						go func() {
							time.Sleep(50 * time.Millisecond)
							at := time.Now()
							release()
							released <- at
						}()
						h, err := d.Lock(context.Background(), lockName, LockOptions{Shared: shared, Timeout: 10 * time.Second})
						got := time.Now()
						at := <-released
						if err != nil {
							t.Fatalf("Lock(%s, shared=%v) after the release = %v, want the lock", lockName, shared, err)
						}
						if got.Before(at) {
							t.Errorf("Lock(%s, shared=%v) got the lock at %v, before the holder released it at %v", lockName, shared, got, at)
						}
						h.Unlock()
					})
				})
			}
		}
	}
}

// TestWaitLockEnds: a wait under a lock that is never released ends at
// its timeout with ErrLocked naming the lock file, and at once when its
// context ends, with the context's error; either way it leaves no
// descriptor or goroutine behind.
func TestWaitLockEnds(t *testing.T) {
	for _, mode := range []string{"inotify", "polling"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "polling" {
				polling(t)
			}
			d := lockDir(t)
			held, err := d.Lock(context.Background(), lockName, LockOptions{Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer held.Unlock()
			path := filepath.Join(d.Path(), lockName)
			leavesNothing(t, "a wait that timed out", func() {
				const timeout = 200 * time.Millisecond
				began := time.Now()
				_, err := d.Lock(context.Background(), lockName, LockOptions{Timeout: timeout})
				if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
					t.Errorf("Lock(%s) under a held lock = %v, want ErrLocked naming %s", lockName, err, path)
				}
				if took := time.Since(began); took < timeout {
					t.Errorf("Lock(%s) gave up after %v, before its timeout %v", lockName, took, timeout)
				}
			})
			leavesNothing(t, "a wait whose context ended", func() {
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { time.Sleep(50 * time.Millisecond); cancel(); close(done) }()
				_, err := d.Lock(ctx, lockName, LockOptions{Timeout: time.Minute})
				<-done
				if !errors.Is(err, context.Canceled) || errors.Is(err, ErrLocked) {
					t.Errorf("Lock(%s) with its context cancelled = %v, want context.Canceled and not ErrLocked", lockName, err)
				}
			})
		})
	}
}
