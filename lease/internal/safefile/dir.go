package safefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// maxSymlinks bounds the symbolic links followed in one walk, as the
// kernel's own limit does.
const maxSymlinks = 40

// dirFlags open a directory without following a symbolic link.
const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// Dir is an open database directory, reached by OpenDir. Every file in
// it is opened, created, renamed and synced through its descriptor.
type Dir struct {
	fd   int
	path string // as the user named it, for messages
}

// Close closes the directory's descriptor. Closing twice, or a nil Dir,
// is a no-op.
func (d *Dir) Close() {
	if d != nil && d.fd >= 0 {
		unix.Close(d.fd)
		d.fd = -1
	}
}

// Path returns the directory's path as it was named to OpenDir.
func (d *Dir) Path() string { return d.path }

// Info is the part of a stat result the checks use, the same on every
// system whatever the widths of unix.Stat_t's fields there.
type Info struct {
	dev, ino uint64
	mode     uint32
	nlink    uint64
	uid, gid uint32
	size     int64
}

func toInfo(st *unix.Stat_t) Info {
	return Info{dev: uint64(st.Dev), ino: uint64(st.Ino), mode: uint32(st.Mode), nlink: uint64(st.Nlink), uid: st.Uid, gid: st.Gid, size: st.Size}
}

// Fstat is the Info of the open file fd.
func Fstat(fd int) (Info, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return Info{}, err
	}
	return toInfo(&st), nil
}

// Size is the file's size in bytes.
func (i Info) Size() int64 { return i.size }

// SameAs says whether i and o are the same file (device and inode).
func (i Info) SameAs(o Info) bool { return i.dev == o.dev && i.ino == o.ino }

func (i Info) typ() uint32  { return i.mode & unix.S_IFMT }
func (i Info) perm() uint32 { return i.mode & 0o777 }

// trustedOwner says whether uid may own a path of the database: this
// process's effective user, or root.
func trustedOwner(uid uint32) bool { return uid == 0 || int(uid) == os.Geteuid() }

// unsafePath is the error for a path the ownership rules refuse.
func unsafePath(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsafePath}, a...)...)
}

// modeFix is what to do about a directory others can write: "chmod go-w
// PATH" only for a directory of the user's own, never for a shared one
// (sticky as /tmp is, someone else's, or a system directory: one at the
// top of the tree, such as /tmp, /var or /srv, or under /dev, /run,
// /var/tmp), where taking the write bit away breaks everyone else's use.
func modeFix(path string, i Info, instead string) string {
	clean := filepath.Clean(path)
	shared := i.mode&unix.S_ISVTX != 0 || int(i.uid) != os.Geteuid() || filepath.Dir(clean) == "/" || clean == "/"
	for _, sys := range []string{"/dev", "/run", "/var/tmp", "/var/run", "/private/tmp", "/private/var"} {
		shared = shared || strings.HasPrefix(clean+"/", sys+"/")
	}
	if shared {
		return instead + "; " + clean + " is a shared directory, not to be made private"
	}
	return "chmod go-w " + path + ", or " + instead
}

// checkAncestor applies the ownership rules to a directory above the
// database directory: owned by this user or root, and writable by no one
// else unless it is sticky (as /tmp is), where others cannot rename or
// remove what is not theirs.
func checkAncestor(path string, i Info) error {
	switch {
	case !trustedOwner(i.uid):
		return unsafePath("%s is owned by uid %d, who could redirect the database; keep the database under directories owned by you or root", path, i.uid)
	case i.perm()&0o022 != 0 && i.mode&unix.S_ISVTX == 0:
		return unsafePath("%s is writable by group or others (mode %04o), who could redirect the database; %s", path, i.perm(), modeFix(path, i, "choose another --db"))
	}
	return nil
}

// checkDir applies the ownership rules to the database directory: owned
// by this user or root, writable by no one else, sticky or not.
func checkDir(path string, i Info) error {
	switch {
	case !trustedOwner(i.uid):
		return unsafePath("database directory %s is owned by uid %d, not by you or root; use a directory of your own (--db)", path, i.uid)
	case i.perm()&0o022 != 0:
		return unsafePath("database directory %s is writable by group or others (mode %04o); %s", path, i.perm(), modeFix(path, i, "use a directory of your own (--db)"))
	}
	return nil
}

// checkFileOwner applies the ownership rules to the database or its lock
// file: a regular file with one link, owned by this user or root,
// writable by no one else. what names the file in messages.
func checkFileOwner(what, path string, i Info) error {
	switch {
	case i.typ() != unix.S_IFREG:
		return unsafePath("%s %s is not a regular file but %s; remove it", what, path, kindOf(fileType(i)))
	case i.nlink != 1:
		return unsafePath("%s %s has %d links (a hard link to another file?); remove it", what, path, i.nlink)
	case !trustedOwner(i.uid):
		return unsafePath("%s %s is owned by uid %d, not by you or root; remove it or use a database of your own", what, path, i.uid)
	case i.perm()&0o022 != 0:
		return unsafePath("%s %s is writable by group or others (mode %04o); chmod go-w %s", what, path, i.perm(), path)
	}
	return nil
}

// OpenDir opens the directory dir for the database: every component is
// opened relative to the one before with O_NOFOLLOW and checked with
// checkAncestor; a symbolic link is followed only when this user or root
// owns it (so no one else planted it). With create, missing directories
// are made with mkdirat, 0700, and opened again without following links.
// The last directory must pass checkDir.
func OpenDir(dir string, create bool) (*Dir, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	w := &walker{fd: -1, create: create}
	if err := w.root(); err != nil {
		return nil, err
	}
	if err := w.walk(abs); err != nil {
		unix.Close(w.fd)
		return nil, err
	}
	if err := checkDir(dir, w.info); err != nil {
		unix.Close(w.fd)
		return nil, err
	}
	return &Dir{fd: w.fd, path: dir}, nil
}

// walker walks a path one directory at a time.
type walker struct {
	fd     int    // the directory reached so far
	at     string // its path as walked
	info   Info   // its stat
	unsafe error  // why it may not be walked through, if it may not
	create bool
	mode   uint32 // of the directories it makes; zero means 0700
	links  int
}

// root moves the walker to "/".
func (w *walker) root() error {
	fd, err := unix.Open("/", dirFlags, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: "/", Err: err}
	}
	return w.moveTo(fd, "/")
}

// moveTo makes fd, the directory at path, the walker's current one. It
// is checked with checkAncestor when the walk goes on from it; the last
// one gets checkDir instead.
func (w *walker) moveTo(fd int, path string) error {
	i, err := Fstat(fd)
	if err != nil {
		unix.Close(fd)
		return err
	}
	if w.fd >= 0 {
		unix.Close(w.fd)
	}
	w.fd, w.at, w.info, w.unsafe = fd, path, i, checkAncestor(path, i)
	return nil
}

func (w *walker) walk(path string) error {
	todo := strings.Split(path, "/")
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		if name == "" || name == "." {
			continue
		}
		if w.unsafe != nil {
			return w.unsafe
		}
		link, err := w.step(name)
		if err != nil {
			return err
		}
		if link == "" {
			continue
		}
		if w.links++; w.links > maxSymlinks {
			return &fs.PathError{Op: "open", Path: path, Err: unix.ELOOP}
		}
		if strings.HasPrefix(link, "/") {
			if err := w.root(); err != nil {
				return err
			}
		}
		todo = append(strings.Split(link, "/"), todo...)
	}
	return nil
}

// step opens name in the current directory (creating it if allowed) and
// moves there; for a symbolic link this user or root owns, it returns
// the link's target instead.
func (w *walker) step(name string) (link string, err error) {
	path := filepath.Join(w.at, name)
	fd, err := unix.Openat(w.fd, name, dirFlags, 0)
	made := false
	if errors.Is(err, unix.ENOENT) && w.create && name != ".." {
		merr := unix.Mkdirat(w.fd, name, w.dirMode())
		if merr != nil && !errors.Is(merr, unix.EEXIST) {
			return "", &fs.PathError{Op: "mkdir", Path: path, Err: merr}
		}
		made = merr == nil
		fd, err = unix.Openat(w.fd, name, dirFlags, 0)
	}
	switch {
	case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.EMLINK):
		return w.symlink(name, path)
	case err != nil:
		return "", &fs.PathError{Op: "open", Path: path, Err: err}
	}
	if made {
		// 0700 whatever the umask; and the new entry synced in its parent,
		// so that a power cut cannot lose the directory, and the database
		// in it, after a command confirmed a lease.
		if err := fixMode(fd, w.dirMode()); err != nil {
			unix.Close(fd)
			return "", &fs.PathError{Op: "chmod", Path: path, Err: err}
		}
		if err := unix.Fsync(w.fd); err != nil && !errors.Is(err, unix.EINVAL) {
			unix.Close(fd)
			return "", &fs.PathError{Op: "sync", Path: w.at, Err: err}
		}
	}
	return "", w.moveTo(fd, path)
}

// dirMode is the mode of the directories the walk makes.
func (w *walker) dirMode() uint32 {
	if w.mode == 0 {
		return 0o700
	}
	return w.mode
}

// fixMode gives a directory this process just made mode (0700 for a
// database's) whatever the umask. It only ever adds bits of mode to a
// directory of this user that has no others: one that a racer swapped in
// is never loosened beyond mode, never tightened, and never another
// user's.
func fixMode(fd int, mode uint32) error {
	i, err := Fstat(fd)
	if err != nil {
		return err
	}
	if int(i.uid) != os.Geteuid() || i.perm()&^mode != 0 || i.perm() == mode {
		return nil
	}
	return unix.Fchmod(fd, mode)
}

// symlink handles a component that did not open as a directory: a
// symbolic link owned by this user or root is followed (its target
// returned); anything else is refused.
func (w *walker) symlink(name, path string) (string, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(w.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return "", &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	i := toInfo(&st)
	if i.typ() != unix.S_IFLNK {
		return "", fmt.Errorf("%s is not a directory", path)
	}
	if !trustedOwner(i.uid) {
		return "", unsafePath("%s is a symbolic link owned by uid %d; it is not followed: use a path without it (--db)", path, i.uid)
	}
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(w.fd, name, buf)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: path, Err: err}
	}
	if n == 0 || n == len(buf) {
		return "", fmt.Errorf("%s is a symbolic link with an empty or overlong target", path)
	}
	return string(buf[:n]), nil
}
