package confine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Group is one cgroup of aliaslease's subtree, holding one process tree.
// It keeps a descriptor of its directory open until Remove or Close.
type Group struct {
	name  string
	dir   string // its directory under the mount
	path  string // as /proc/PID/cgroup names it
	fd    int    // O_PATH|O_DIRECTORY
	id    uint64
	level uint32
}

// Name is the group's directory name (a RunName for groups of "run").
func (g *Group) Name() string { return g.name }

// Dir is the group's directory in the cgroup2 file system.
func (g *Group) Dir() string { return g.dir }

// Path is the group's cgroup path as /proc/PID/cgroup shows it
// ("/aliaslease/NAME" as root).
func (g *Group) Path() string { return g.path }

// FD is an O_PATH descriptor of the group's directory, valid until Remove
// or Close: what SysProcAttr.CgroupFD takes (Attach sets it).
func (g *Group) FD() int { return g.fd }

// ID is the cgroup id (the directory's kernfs node id, from its file
// handle; on 64-bit hosts it equals the inode number): the 8 bytes that
// nftables' "socket cgroupv2 level Level()" compares.
func (g *Group) ID() uint64 { return g.id }

// Level is the group's depth below the cgroup2 root ("/aliaslease/NAME"
// is 2), the level at which nftables matches this group and every cgroup
// below it. Like Path it counts from the root this process sees: inside a
// cgroup namespace that is the namespace's root, not the kernel's, and the
// level nftables needs would be larger (aliaslease runs in the host's).
func (g *Group) Level() uint32 { return g.level }

// Attach makes cmd start inside the group: clone3 with CLONE_INTO_CGROUP
// puts the child there as it is created, before its first instruction,
// so no socket, thread or child of it is ever made outside. The rest of
// cmd.SysProcAttr is kept. On kernels before 5.7 cmd.Start then fails;
// nothing is started outside the group.
func (g *Group) Attach(cmd *exec.Cmd) error {
	if g.fd < 0 {
		return fmt.Errorf("cgroup %s: %w", g.dir, os.ErrClosed)
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.UseCgroupFD = true
	cmd.SysProcAttr.CgroupFD = g.fd
	return nil
}

// Populated says whether any process lives in the group or below it
// (cgroup.events; zombies do not count). A group that no longer exists
// is not populated: its holder is gone.
func (g *Group) Populated() (bool, error) {
	data, err := g.read("cgroup.events")
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENODEV) { // removed (ENODEV: since it was opened)
		return false, nil
	} else if err != nil {
		return false, err
	}
	return parsePopulated(data)
}

// Wait returns once the group is empty (nil) or ctx ends (ctx.Err()).
// The kernel signals every change of cgroup.events with IN_MODIFY, so
// Wait sleeps on inotify instead of polling.
func (g *Group) Wait(ctx context.Context) error {
	ifd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	f := os.NewFile(uintptr(ifd), "inotify") // non-blocking: Go's poller serves it, deadlines work
	defer f.Close()
	if _, err := unix.InotifyAddWatch(ifd, g.file("cgroup.events"), unix.IN_MODIFY); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) {
			return nil
		}
		return fmt.Errorf("watch %s: %w", g.dir, err)
	}
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, 4096)
	for {
		pop, err := g.Populated()
		if err != nil || !pop {
			return err
		}
		if _, err := f.Read(buf); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("watch %s: %w", g.dir, err)
		}
	}
}

// maxPasses bounds the signal loop against a tree that forks faster than
// it is signalled (cgroup.kill has no such race).
const maxPasses = 1000

// Signal sends sig to every process in the group and below it, again and
// again until a pass finds no process it has not signalled (a child forked
// meanwhile is caught by the next pass).
func (g *Group) Signal(sig syscall.Signal) error {
	done := map[int]bool{}
	for range maxPasses {
		pids, err := g.procs()
		if err != nil {
			return err
		}
		fresh := false
		for _, pid := range pids {
			if done[pid] {
				continue
			}
			done[pid], fresh = true, true
			if err := g.signalOne(pid, sig); err != nil {
				return err
			}
		}
		if !fresh {
			return nil
		}
	}
	return fmt.Errorf("signal cgroup %s: %w", g.dir, errStopped)
}

// signalOne signals pid through a pidfd, and only when that process is in
// the group: a PID read from cgroup.procs may have exited and been reused
// by a process elsewhere by the time the signal is sent.
func (g *Group) signalOne(pid int, sig syscall.Signal) error {
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return ignoreGone(err)
	}
	defer unix.Close(pfd)
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return nil // gone
	}
	if p, ok := parseOwnCgroup(data); !ok || (p != g.path && !strings.HasPrefix(p, g.path+"/")) {
		return nil
	}
	return ignoreGone(unix.PidfdSendSignal(pfd, sig, nil, 0))
}

// useKillFile lets tests take the signal loop where cgroup.kill exists.
var useKillFile = true

// Kill ends every process of the group with SIGKILL: through cgroup.kill
// (kernel 5.14+), which cannot be outrun by forks, else by the signal
// loop. It does not wait; Wait does.
func (g *Group) Kill() error {
	if useKillFile {
		fd, err := unix.Openat(g.fd, "cgroup.kill", unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			_, err = unix.Write(fd, []byte("1"))
			unix.Close(fd)
			if err != nil {
				return fmt.Errorf("kill cgroup %s: %w", g.dir, err)
			}
			return nil
		}
		if !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("kill cgroup %s: %w", g.dir, err)
		}
	}
	return g.Signal(syscall.SIGKILL)
}

// Remove removes the group, and first any empty cgroups below it (a tree
// run as root may have made some). The kernel refuses to remove a
// populated cgroup (EBUSY): the group then stays, still open.
func (g *Group) Remove() error {
	var dirs []string
	filepath.WalkDir(g.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := unix.Rmdir(dirs[i]); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remove cgroup %s: %w", dirs[i], err)
		}
	}
	return g.Close()
}

// Close releases the group's descriptor; the cgroup itself stays.
func (g *Group) Close() error {
	if g.fd < 0 {
		return nil
	}
	err := unix.Close(g.fd)
	g.fd = -1
	return err
}

// procs lists the PIDs in the group and every cgroup below it.
func (g *Group) procs() ([]int, error) {
	var pids []int
	err := filepath.WalkDir(g.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		for f := range bytes.FieldsSeq(data) {
			if pid, err := strconv.Atoi(string(f)); err == nil && pid > 0 {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids, err
}

// file names one of the group's files through its descriptor, so that it
// is this group's even if the directory was renamed.
func (g *Group) file(name string) string {
	return "/proc/self/fd/" + strconv.Itoa(g.fd) + "/" + name
}

func (g *Group) read(name string) ([]byte, error) {
	if g.fd < 0 {
		return nil, fmt.Errorf("cgroup %s: %w", g.dir, os.ErrClosed)
	}
	fd, err := unix.Openat(g.fd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: filepath.Join(g.dir, name), Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(f)
	return buf.Bytes(), err
}
