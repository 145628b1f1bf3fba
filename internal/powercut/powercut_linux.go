//go:build linux

package powercut

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Options configure Mount. A nil *Options means the zero value.
type Options struct {
	// PageSize is the unit in which Writeback makes file data durable:
	// a torn write tears at its boundaries. Zero means 4096.
	PageSize int
	// Debug logs every FUSE request (go-fuse's debug log).
	Debug bool
	// SkipFileSyncs and SkipDirSyncs make the file system lie: fsync
	// and fdatasync of files, or fsync of directories, succeed without
	// making anything durable. They show that a test would catch a
	// program that leaves those calls out.
	SkipFileSyncs, SkipDirSyncs bool
}

// Stats counts what the mount served.
type Stats struct {
	Reads, Writes                 int
	Fsyncs, Fdatasyncs, DirSyncs  int
	WritebackPages, WritebackDirs int
	// CutAtSync is the number of the sync call that PowerOffAtSync cut
	// at (0 if none).
	CutAtSync int
}

// FS is a mounted power-loss simulator.
type FS struct {
	lower, mnt string
	pageSize   int64
	server     *fuse.Server

	mu        sync.Mutex
	nodes     map[uint64]*node
	root      *node
	nextID    uint64
	off       bool // the power is off: every request fails with EIO
	syncs     int  // sync calls served so far
	offAtSync int  // power off at this sync call (0: never)
	stats     Stats
	cut       bool
	skipFile  bool
	skipDir   bool
}

// Available says why a simulator cannot be mounted here, or nil when it
// can: it needs Linux, root (the mount is made with mount(2) directly, no
// fusermount needed) and /dev/fuse. It does not mount anything.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("not root: the simulator mounts with mount(2)")
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("no usable /dev/fuse: %w", err)
	}
	f.Close()
	return nil
}

// Mount serves the lower directory at mountpoint (an existing, empty
// directory), its whole contents loaded into memory: every file as it is
// there, volatile and durable alike.
func Mount(lower, mountpoint string, opts *Options) (*FS, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.PageSize <= 0 {
		o.PageSize = 4096
	}
	abs, err := filepath.Abs(lower)
	if err != nil {
		return nil, err
	}
	f := &FS{lower: abs, mnt: mountpoint, pageSize: int64(o.PageSize), nodes: map[uint64]*node{},
		skipFile: o.SkipFileSyncs, skipDir: o.SkipDirSyncs}
	if err := f.load(); err != nil {
		return nil, fmt.Errorf("powercut: load %s: %w", lower, err)
	}
	sec := time.Second
	fo := &fs.Options{
		MountOptions: fuse.MountOptions{
			// No fusermount: root mounts with mount(2).
			DirectMountStrict: true,
			FsName:            "powercut:" + abs,
			Name:              "powercut",
			// The kernel checks permissions from the attributes served.
			Options: []string{"default_permissions"},
			// No xattrs (ENOSYS once, then the kernel stops asking).
			DisableXAttrs: true,
			// EnableLocks unset: the kernel keeps flock and POSIX locks
			// itself, as on a local disk, for every process on the mount.
			Debug: o.Debug,
		},
		// Every change goes through this mount, so the kernel's caches
		// never go stale; a second saves lookups.
		EntryTimeout: &sec,
		AttrTimeout:  &sec,
		UID:          0,
		GID:          0,
	}
	root := &inode{f: f, n: f.root}
	server, err := fs.Mount(mountpoint, root, fo)
	if err != nil {
		return nil, fmt.Errorf("powercut: mount %s: %w", mountpoint, err)
	}
	f.server = server
	closeFuseOnExec()
	return f, nil
}

// closeFuseOnExec marks the /dev/fuse descriptor go-fuse opened (without
// O_CLOEXEC) close-on-exec, so that the processes a test starts do not
// keep the connection alive after a cut.
func closeFuseOnExec() {
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		if t, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && t == "/dev/fuse" {
			if fd, err := strconv.Atoi(e.Name()); err == nil {
				syscall.CloseOnExec(fd)
			}
		}
	}
}

// Mountpoint is where the file system is mounted.
func (f *FS) Mountpoint() string { return f.mnt }

// Lower is the directory the file system serves.
func (f *FS) Lower() string { return f.lower }

// PowerOff stops the disk: from now on nothing more becomes durable and
// every request fails with EIO. A sync call that completed before it is
// durable; one that had not completed fails.
func (f *FS) PowerOff() {
	f.mu.Lock()
	f.off = true
	f.mu.Unlock()
}

// PowerOffAtSync arranges for the power to go off at the n-th sync call
// (fsync, fdatasync or directory fsync) from now, n ≥ 1: that call fails
// with EIO and is not applied, so the disk holds exactly what the n-1
// calls before it made durable, and no more.
func (f *FS) PowerOffAtSync(n int) {
	f.mu.Lock()
	f.offAtSync = f.syncs + n
	f.mu.Unlock()
}

// Off says whether the power is off.
func (f *FS) Off() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.off
}

// Writeback makes random parts of what is not yet durable durable: each
// dirty page, size change, inode's attributes and directory's entries
// with probability p, as a kernel's background writeback and a journal's
// commits may at any moment. It does nothing once the power is off.
func (f *FS) Writeback(r *rand.Rand, p float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.off {
		return
	}
	pages, dirs := f.writeback(r, p)
	f.stats.WritebackPages += pages
	f.stats.WritebackDirs += dirs
}

// Sync makes everything durable, as sync(2) does.
func (f *FS) Sync() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.off {
		f.syncAll()
	}
}

// Stats returns the counts so far.
func (f *FS) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Cut loses power: everything not durable is dropped, the file system
// is unmounted, and the lower directory is rewritten to hold exactly the
// durable state. Processes using the mount must have been killed first
// (open files keep a mount busy; it is then detached lazily and keeps
// failing every request with EIO). Cut is idempotent.
func (f *FS) Cut() error {
	f.PowerOff()
	f.mu.Lock()
	done := f.cut
	f.cut = true
	f.mu.Unlock()
	if done {
		return nil
	}
	err := f.unmount()
	f.mu.Lock()
	defer f.mu.Unlock()
	if serr := f.store(); serr != nil {
		return fmt.Errorf("powercut: store %s: %w", f.lower, serr)
	}
	return err
}

// Unmount is a clean shutdown: Sync, then Cut.
func (f *FS) Unmount() error {
	f.Sync()
	return f.Cut()
}

func (f *FS) unmount() error {
	var err error
	for range 20 {
		if err = f.server.Unmount(); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Still busy: detach it, so that the mount point is free; the
	// server answers EIO until its last user is gone.
	if derr := syscall.Unmount(f.mnt, syscall.MNT_DETACH); derr != nil {
		return fmt.Errorf("powercut: unmount %s: %v; detach: %w", f.mnt, err, derr)
	}
	return fmt.Errorf("powercut: %s was busy at the cut (%v); detached it", f.mnt, err)
}
