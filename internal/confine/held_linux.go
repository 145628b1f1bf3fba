//go:build linux

// What aliaslease confines but did not start (aliaslease confine): a
// cgroup someone else made (--cgroup), and a running process moved into a
// group of aliaslease's own (--pid); and whether a confinement's cgroup
// still exists, told by its id alone.

package confine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// CgroupPath returns the cgroup arg names, as its path below the cgroup2
// mount starting with "/" (what a holder of it records). arg is either a
// directory under the mount (/sys/fs/cgroup/system.slice/vm.service) or a
// cgroup path as /proc/PID/cgroup and "systemctl show -p ControlGroup"
// write it (/system.slice/vm.service). The root is refused, and so is
// aliaslease's own subtree, its groups (a run's or confine --pid's are
// confined by their own records) and any cgroup above it (which would
// confine every run to one alias).
func (r Root) CgroupPath(arg string) (string, error) {
	if !filepath.IsAbs(arg) {
		return "", fmt.Errorf("%w: %q is not an absolute path", ErrCgroupPath, arg)
	}
	p := filepath.Clean(arg)
	rel, found := cutDir(p, r.Mount)
	if !found {
		if rel, found = cutDir(p, r.mroot); !found {
			return "", fmt.Errorf("%w: %s is neither under the cgroup2 mount %s nor a cgroup path below %s", ErrCgroupPath, p, r.Mount, r.mroot)
		}
	}
	own, _ := cutDir(r.Dir, r.Mount)
	switch {
	case rel == "/":
		return "", fmt.Errorf("%w: %s is the root cgroup: every process of the host", ErrCgroupPath, p)
	case rel == own || strings.HasPrefix(rel, own+"/"):
		return "", fmt.Errorf("%w: %s is in aliaslease's own subtree %s (confine a process there with --pid)", ErrCgroupPath, p, r.Dir)
	case strings.HasPrefix(own, rel+"/"):
		return "", fmt.Errorf("%w: %s holds aliaslease's own subtree %s: every run would be confined to this one alias", ErrCgroupPath, p, r.Dir)
	}
	return rel, nil
}

// cutDir returns p below dir as "/rest" ("/" for dir itself).
func cutDir(p, dir string) (string, bool) {
	if dir == "/" {
		return p, true
	}
	if p == dir {
		return "/", true
	}
	rest, ok := strings.CutPrefix(p, dir+"/")
	return "/" + rest, ok
}

// OpenCgroup opens a cgroup by its path below the mount (CgroupPath's
// form), for a holder of one that aliaslease did not make. Such a group
// is never removed by aliaslease: Remove is for its own groups only.
func (r Root) OpenCgroup(rel string) (*Group, error) {
	if !strings.HasPrefix(rel, "/") || filepath.Clean(rel) != rel || rel == "/" {
		return nil, fmt.Errorf("%w: %q", ErrName, rel)
	}
	path := filepath.Join(r.mroot, rel)
	return openGroup(rel, filepath.Join(r.Mount, rel), path, depth(path))
}

// Adopt moves pid, and every descendant of it, into the group: the
// sockets they open from then on are the group's (those they have keep
// the cgroup they were made in). pid is moved first, so that when it
// cannot be (ESRCH: no such process) nothing is moved; a child forked
// meanwhile by a process not moved yet is found by the next pass, one
// forked by a moved one is born in the group. It returns the PIDs moved.
func (g *Group) Adopt(pid int) ([]int, error) {
	if err := g.move(pid); err != nil {
		return nil, err
	}
	moved := []int{pid}
	done := map[int]bool{pid: true}
	for range maxPasses {
		all, err := scanProc()
		if err != nil {
			return moved, err
		}
		parent := make(map[int]int, len(all))
		for _, s := range all {
			parent[s.pid] = s.ppid
		}
		fresh := false
		for _, s := range all {
			if done[s.pid] || s.zombie() || !descends(s.pid, pid, parent) {
				continue
			}
			done[s.pid], fresh = true, true
			if err := g.move(s.pid); errors.Is(err, unix.ESRCH) {
				continue
			} else if err != nil {
				return moved, fmt.Errorf("pid %d, a descendant of %d, stays where it was: %w", s.pid, pid, err)
			}
			moved = append(moved, s.pid)
		}
		if !fresh {
			return moved, nil
		}
	}
	return moved, fmt.Errorf("adopt the descendants of %d: %w", pid, errStopped)
}

// move writes pid into the group's cgroup.procs.
func (g *Group) move(pid int) error {
	if g.fd < 0 {
		return fmt.Errorf("cgroup %s: %w", g.dir, os.ErrClosed)
	}
	fd, err := unix.Openat(g.fd, "cgroup.procs", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cgroup %s: %w", g.dir, err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte(strconv.Itoa(pid))); err != nil {
		return fmt.Errorf("move pid %d into %s: %w", pid, g.dir, err)
	}
	return nil
}

// CgroupOf returns the cgroup pid is in, as /proc/PID/cgroup names it.
func CgroupOf(pid int) (string, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", err
	}
	p, ok := parseOwnCgroup(data)
	if !ok {
		return "", fmt.Errorf("%w: /proc/%d/cgroup names no cgroup2 path", ErrNoCgroup, pid)
	}
	return p, nil
}

// Holds says whether a process in cgroup p (as CgroupOf returns it) is
// in aliaslease's subtree: a run's tree, or one confine --pid moved.
func (r Root) Holds(p string) bool { return p == r.path || strings.HasPrefix(p, r.path+"/") }

// cgroupState tells, by its id, whether a cgroup exists anywhere in the
// hierarchy mounted at mount, and whether a process is in it or below.
// The id is the payload of the directory's kernfs file handle, so
// open_by_handle_at with it opens the cgroup (ESTALE once it is removed;
// ids are not reused) wherever it is: a confinement's cgroup need not be
// in aliaslease's subtree (confine --cgroup), and no walk of the whole
// hierarchy is needed. It needs CAP_DAC_READ_SEARCH, as the firewall
// needs root.
func cgroupState(mount string, id uint64) (exists, populated bool, err error) {
	mfd, err := unix.Open(mount, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, false, fmt.Errorf("open the cgroup2 mount %s: %w", mount, err)
	}
	defer unix.Close(mfd)
	h := binary.NativeEndian.AppendUint64(nil, id)
	fd, err := unix.OpenByHandleAt(mfd, unix.NewFileHandle(fileIDKernfs, h), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if errors.Is(err, unix.ESTALE) || errors.Is(err, unix.ENOENT) {
		return false, false, nil
	} else if err != nil {
		return false, false, fmt.Errorf("look up cgroup %d: %w", id, err)
	}
	defer unix.Close(fd)
	g := Group{fd: fd, dir: "cgroup " + strconv.FormatUint(id, 10)}
	data, err := g.read("cgroup.events")
	if err != nil {
		return true, true, err // it exists; what is in it cannot be told: count it populated
	}
	pop, err := parsePopulated(data)
	return true, pop || err != nil, err
}

// fileIDKernfs is FILEID_KERNFS, the type of a kernfs file handle.
const fileIDKernfs = 0xfe

// cgroupMount is where the cgroup2 file system is mounted, found without
// making anything (Find makes aliaslease's subtree).
func cgroupMount() (string, bool) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", false
	}
	defer f.Close()
	m, ok, _ := parseMountinfo(f)
	return m.point, ok
}

// RemoveGone removes from fw the confinements whose cgroup no longer
// exists: those of trees whose wrapper was killed after it installed them
// and before it recorded them, or whose record went before they did.
// Such rules match nothing (a cgroup id is never given again), so
// removing them needs no record: it is what gc does. It returns the ids
// of those removed.
func RemoveGone(fw *Firewall) ([]uint64, error) {
	mount, ok := cgroupMount()
	if !ok {
		return nil, fmt.Errorf("%w: no cgroup2 file system in /proc/self/mountinfo", ErrNoCgroup)
	}
	confs, err := fw.List()
	if err != nil {
		return nil, err
	}
	var removed []uint64
	var errs []error
	for _, c := range confs {
		exists, _, err := cgroupState(mount, c.CgroupID)
		if err != nil || exists {
			errs = append(errs, err)
			continue
		}
		if err := fw.Remove(c.CgroupID); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, c.CgroupID)
	}
	return removed, errors.Join(errs...)
}

// CgroupState tells, by its id, whether a cgroup exists anywhere in the
// cgroup2 hierarchy and whether a process is in it (see cgroupState), for
// the health report. It needs root.
func CgroupState(id uint64) (exists, populated bool, err error) {
	mount, ok := cgroupMount()
	if !ok {
		return false, false, fmt.Errorf("%w: no cgroup2 file system in /proc/self/mountinfo", ErrNoCgroup)
	}
	return cgroupState(mount, id)
}
