package confine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Find locates the cgroup2 mount and this process's subtree, making the
// subtree's directory if it is missing. Errors wrap ErrNoCgroup and name
// the missing part: no cgroup2 mounted, mounted read-only, own cgroup not
// delegated, a subtree owned by someone else.
func Find() (Root, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return Root{}, fmt.Errorf("%w: %v", ErrNoCgroup, err)
	}
	m, ok, err := parseMountinfo(f)
	f.Close()
	switch {
	case err != nil:
		return Root{}, fmt.Errorf("%w: %v", ErrNoCgroup, err)
	case !ok:
		return Root{}, fmt.Errorf("%w: no cgroup2 file system in /proc/self/mountinfo", ErrNoCgroup)
	case m.ro:
		return Root{}, fmt.Errorf("%w: cgroup2 at %s is mounted read-only", ErrNoCgroup, m.point)
	}
	r := Root{Mount: m.point, Dir: filepath.Join(m.point, subtreeName)}
	if os.Geteuid() != 0 {
		top, err := delegation(m)
		if err != nil {
			return Root{}, err
		}
		r.Dir, r.Delegated = filepath.Join(top, subtreeName), true
	}
	if err := makeSubtree(r.Dir); err != nil {
		return Root{}, err
	}
	rel, _ := filepath.Rel(m.point, r.Dir)
	r.path = filepath.Join(m.root, rel)
	r.level = depth(r.path)
	r.mroot = m.root
	return r, nil
}

// RootSubtree is the directory Find makes as root (aliaslease's subtree
// under the cgroup2 mount), "" where there is no cgroup2. It makes and
// changes nothing: for a caller (a test suite) that must remove the
// subtree again when it made it and left it empty.
func RootSubtree() string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	m, ok, _ := parseMountinfo(f)
	if !ok {
		return ""
	}
	return filepath.Join(m.point, subtreeName)
}

// delegation finds the highest cgroup, from this process's own upward,
// whose directory and cgroup.procs this process can write: moving a
// process needs write access to the cgroup.procs of the common ancestor
// of where it is and where it goes, so groups live below that one.
func delegation(m mount) (string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoCgroup, err)
	}
	own, ok := parseOwnCgroup(data)
	if !ok {
		return "", fmt.Errorf("%w: /proc/self/cgroup names no cgroup2 path", ErrNoCgroup)
	}
	rel, ok := strings.CutPrefix(own, m.root)
	if !ok {
		return "", fmt.Errorf("%w: own cgroup %s is outside the mounted %s", ErrNoCgroup, own, m.root)
	}
	dir := filepath.Join(m.point, rel)
	if !writable(dir) {
		return "", fmt.Errorf("%w: own cgroup %s is not writable by uid %d (not a delegated subtree; run as root, or inside a unit with Delegate=yes)", ErrNoCgroup, dir, os.Geteuid())
	}
	for dir != m.point {
		up := filepath.Dir(dir)
		if up == dir || !strings.HasPrefix(up, m.point) || !writable(up) {
			break
		}
		dir = up
	}
	return dir, nil
}

// writable says whether this process (by its effective ids) may create
// cgroups in dir and move processes through its cgroup.procs.
func writable(dir string) bool {
	return unix.Faccessat(unix.AT_FDCWD, dir, unix.W_OK, unix.AT_EACCESS) == nil &&
		unix.Faccessat(unix.AT_FDCWD, filepath.Join(dir, "cgroup.procs"), unix.W_OK, unix.AT_EACCESS) == nil
}

// makeSubtree makes dir (0755) unless it exists, and refuses one that is
// not a directory of ours that only we can write.
func makeSubtree(dir string) error {
	err := unix.Mkdir(dir, 0o755)
	switch {
	case errors.Is(err, unix.EROFS):
		return fmt.Errorf("%w: cgroup2 is read-only at %s", ErrNoCgroup, dir)
	case errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w: cannot create %s: %v", ErrNoCgroup, dir, err)
	case err != nil && !errors.Is(err, unix.EEXIST):
		return fmt.Errorf("%w: create %s: %v", ErrNoCgroup, dir, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("%w: %v", ErrNoCgroup, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 {
		return fmt.Errorf("%w: %s exists but is not a directory owned by uid %d and writable only by it (uid %d, mode %o)",
			ErrNoCgroup, dir, os.Geteuid(), st.Uid, st.Mode&0o7777)
	}
	return nil
}

// depth counts the components of an absolute slash path ("/" is 0).
func depth(p string) uint32 {
	p = strings.Trim(filepath.Clean(p), "/")
	if p == "" {
		return 0
	}
	return uint32(strings.Count(p, "/") + 1)
}

// New makes a group of its own named name (see RunName). It fails with
// an error wrapping fs.ErrExist when the name is taken, so two runs never
// share one group.
func (r Root) New(name string) (*Group, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	dir := filepath.Join(r.Dir, name)
	err := unix.Mkdir(dir, 0o755)
	if errors.Is(err, unix.ENOENT) { // the subtree was removed since Find (it was empty): make it again
		if err := makeSubtree(r.Dir); err != nil {
			return nil, err
		}
		err = unix.Mkdir(dir, 0o755)
	}
	if err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("cgroup %s: %w", dir, fs.ErrExist)
		}
		return nil, fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	g, err := openGroup(name, dir, r.path+"/"+name, r.level+1)
	if err != nil {
		unix.Rmdir(dir)
		return nil, err
	}
	return g, nil
}

// Open opens an existing group of this subtree by name, for gc after a
// wrapper's crash (to see whether it is populated, to end and remove it).
func (r Root) Open(name string) (*Group, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	return openGroup(name, filepath.Join(r.Dir, name), r.path+"/"+name, r.level+1)
}

// List returns the groups of this subtree, in name order, with whether
// each has processes now. A group removed while List reads is left out.
func (r Root) List() ([]Entry, error) {
	des, err := os.ReadDir(r.Dir)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, de := range des {
		if !de.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(r.Dir, de.Name(), "cgroup.events"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		pop, err := parsePopulated(data)
		if err != nil {
			return nil, fmt.Errorf("cgroup %s: %w", de.Name(), err)
		}
		out = append(out, Entry{Name: de.Name(), Populated: pop})
	}
	return out, nil
}

// Prune removes every empty group of the subtree (and the empty cgroups
// below it) whose directory is at least minAge old, and returns their
// names: what gc does after a wrapper's crash. A run's group is empty from
// New until its command starts, so minAge must exceed that window; the
// age is read from the directory's ctime (its creation, or later), so it
// is never overstated, except by a wall-clock step forward, and a group
// removed too early only makes that run fail to start its command
// (clone3 refuses a removed cgroup): nothing runs unconfined.
func (r Root) Prune(minAge time.Duration) ([]string, error) {
	list, err := r.List()
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range list {
		var st unix.Stat_t
		dir := filepath.Join(r.Dir, e.Name)
		if e.Populated || unix.Lstat(dir, &st) != nil || time.Since(time.Unix(st.Ctim.Unix())) < minAge {
			continue
		}
		g, err := r.Open(e.Name)
		if err != nil {
			continue // removed meanwhile, or not a group of ours
		}
		if err := g.Remove(); err != nil {
			g.Close()
			if errors.Is(err, unix.EBUSY) {
				continue // populated since List
			}
			return removed, err
		}
		removed = append(removed, e.Name)
	}
	return removed, nil
}

// openGroup opens dir as a group: an O_PATH descriptor (what clone3
// takes as CLONE_INTO_CGROUP's fd, and the base of every later file
// access, so a rename under us changes nothing) and its cgroup id.
func openGroup(name, dir, path string, level uint32) (*Group, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil || sfs.Type != unix.CGROUP2_SUPER_MAGIC {
		unix.Close(fd)
		return nil, fmt.Errorf("%w: %s is not on a cgroup2 file system", ErrNoCgroup, dir)
	}
	id, err := cgroupID(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("cgroup %s: id: %w", dir, err)
	}
	return &Group{name: name, dir: dir, path: path, fd: fd, id: id, level: level}, nil
}

// cgroupID is the 64-bit kernfs node id that the kernel's cgroup_id()
// returns and nftables compares: the payload of the directory's file
// handle, as nft itself derives it.
func cgroupID(fd int) (uint64, error) {
	h, _, err := unix.NameToHandleAt(fd, "", unix.AT_EMPTY_PATH)
	if err != nil {
		return 0, err
	}
	b := h.Bytes()
	if len(b) != 8 {
		return 0, fmt.Errorf("file handle of %d bytes, want 8", len(b))
	}
	return binary.NativeEndian.Uint64(b), nil
}

// errStopped is returned by loops that never settle (a fork bomb outrunning
// the signal loop).
var errStopped = errors.New("processes kept appearing")

// ignoreGone maps "the process is gone" to nil.
func ignoreGone(err error) error {
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
