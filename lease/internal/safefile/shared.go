package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// SharedMode is the mode of a shared place: setgid, so that what members
// make in it is the group's; sticky, so that only a file's owner (or
// root) removes or renames it; rwx for root and the group, nothing for
// others.
const SharedMode = unix.S_ISGID | unix.S_ISVTX | 0o770

// sharedFileMode is a file's mode in a shared place: the group reads it,
// only its owner writes it.
const sharedFileMode = 0o640

// GID is the file's group.
func (i Info) GID() uint32 { return i.gid }

// UID is the file's owner.
func (i Info) UID() uint32 { return i.uid }

// checkShared applies the rules of a shared place to its directory: made
// by root (only root can own a file as root, or set this mode on it),
// for a group other than root's, with exactly SharedMode.
func checkShared(path string, i Info) error {
	switch {
	case i.typ() != unix.S_IFDIR:
		return UnsafeShared("shared place %s is not a directory", path)
	case i.uid != 0:
		return UnsafeShared("shared place %s is owned by uid %d, not root: it was not made by \"aliaslease share\"; remove it and run that as root", path, i.uid)
	case i.gid == 0:
		return UnsafeShared("shared place %s belongs to group root, not to a group \"aliaslease share\" named", path)
	case i.mode&07777 != SharedMode:
		return UnsafeShared("shared place %s has mode %04o, not %04o as \"aliaslease share\" makes it; remove it and run that as root", path, i.mode&07777, SharedMode)
	}
	return nil
}

// OpenShared opens the shared place dir: every directory above it is
// walked as OpenDir walks them (no link another user owns followed, none
// writable by others unless sticky), and the place itself must pass
// checkShared. A missing place is fs.ErrNotExist; one this user may not
// enter (not a member of its group) is fs.ErrPermission.
func OpenShared(dir string) (*Dir, Info, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, Info{}, err
	}
	w := &walker{fd: -1}
	if err := w.root(); err != nil {
		return nil, Info{}, err
	}
	if err := w.walk(abs); err != nil {
		unix.Close(w.fd)
		if errors.Is(err, fs.ErrPermission) {
			err = refusedFromOutside(abs, dir, err)
		}
		return nil, Info{}, err
	}
	if err := checkShared(dir, w.info); err != nil {
		unix.Close(w.fd)
		return nil, w.info, err
	}
	return &Dir{fd: w.fd, path: dir}, w.info, nil
}

// refusedFromOutside tells a place this user may not enter (denied, the
// error of the walk) that share did not make, seen from its parent:
// another owner, group root, another mode or a link is ErrUnsafePath, as
// for a member, so that a place root changed by mistake is refused
// rather than taken for a group this user is not in. A place that looks
// as share makes it is denied: the user is not in its group.
func refusedFromOutside(abs, dir string, denied error) error {
	w := &walker{fd: -1}
	if err := w.root(); err != nil {
		return denied
	}
	defer func() { unix.Close(w.fd) }()
	if err := w.walk(filepath.Dir(abs)); err != nil {
		return denied
	}
	i, err := (&Dir{fd: w.fd, path: filepath.Dir(dir)}).Lstat(filepath.Base(abs))
	if err != nil {
		return denied
	}
	if err := checkShared(dir, i); err != nil {
		return err
	}
	return denied
}

// MakeShared makes the shared place dir for group gid, as root: its
// parent directories 0755 where missing, the place itself with
// SharedMode. A place that exists already is kept only when it passes
// checkShared for gid; anything else there (made before by someone else,
// another group, another mode, a link) is ErrUnsafePath and left alone.
func MakeShared(dir string, gid uint32) (made bool, err error) {
	parent, err := filepath.Abs(filepath.Dir(dir))
	if err != nil {
		return false, err
	}
	w := &walker{fd: -1, create: true, mode: 0o755}
	if err := w.root(); err != nil {
		return false, err
	}
	if err := w.walk(parent); err != nil {
		unix.Close(w.fd)
		return false, err
	}
	defer unix.Close(w.fd)
	if w.unsafe != nil {
		return false, w.unsafe
	}
	name := filepath.Base(dir)
	merr := unix.Mkdirat(w.fd, name, 0o700)
	if merr != nil && !errors.Is(merr, unix.EEXIST) {
		return false, &fs.PathError{Op: "mkdir", Path: dir, Err: merr}
	}
	fd, err := unix.Openat(w.fd, name, dirFlags, 0)
	if err != nil {
		return false, UnsafeShared("shared place %s cannot be opened as a directory without following a link: %v; remove it", dir, err)
	}
	defer unix.Close(fd)
	i, err := Fstat(fd)
	if err != nil {
		return false, err
	}
	if merr == nil && i.uid == 0 && i.perm()&0o077 == 0 { // the one just made
		if err := unix.Fchown(fd, 0, int(gid)); err != nil {
			return true, &fs.PathError{Op: "chown", Path: dir, Err: err}
		}
		if err := unix.Fchmod(fd, SharedMode); err != nil {
			return true, &fs.PathError{Op: "chmod", Path: dir, Err: err}
		}
		if i, err = Fstat(fd); err != nil {
			return true, err
		}
	}
	if err := checkShared(dir, i); err != nil {
		return merr == nil, err
	}
	if i.gid != gid {
		return false, UnsafeShared("shared place %s belongs to gid %d, not %d; remove it to share with another group", dir, i.gid, gid)
	}
	return merr == nil, unix.Fsync(w.fd)
}

// maxSharedFile bounds what is read of a file in a shared place.
const maxSharedFile = 4096

// ErrNotRegular is the error of ReadShared for an entry that is not a
// regular file (a link, a directory, a FIFO planted there); it wraps
// ErrUnsafePath.
var ErrNotRegular error = &refusal{msg: "not a regular file", wrap: ErrUnsafePath}

// ReadShared reads the file name in the shared place d: lstat first (a
// link, FIFO or device is ErrNotRegular, never opened), then opened
// O_NOFOLLOW|O_NONBLOCK and checked again on the descriptor: the same
// file, one link, writable by its owner alone. Its Info (its owner) is
// returned with every answer but a missing file (fs.ErrNotExist).
func (d *Dir) ReadShared(name string) ([]byte, Info, error) {
	path := filepath.Join(d.path, name)
	before, err := d.Lstat(name)
	if err != nil {
		return nil, Info{}, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	if before.typ() != unix.S_IFREG {
		return nil, before, &refusal{msg: fmt.Sprintf("%s is %s, not a regular file", path, kindOf(fileType(before))), wrap: ErrNotRegular}
	}
	fd, err := unix.Openat(d.fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, before, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	i, err := Fstat(fd)
	switch {
	case err != nil:
		return nil, before, err
	case !i.SameAs(before) || i.typ() != unix.S_IFREG:
		return nil, i, UnsafeShared("%s was replaced while it was opened", path)
	case i.nlink != 1:
		return nil, i, UnsafeShared("%s has %d links (a hard link to another file?)", path, i.nlink)
	case i.perm()&0o022 != 0:
		return nil, i, UnsafeShared("%s is writable by group or others (mode %04o)", path, i.perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSharedFile+1))
	if err == nil && len(b) > maxSharedFile {
		err = fmt.Errorf("%s is larger than %d bytes", path, maxSharedFile)
	}
	return b, i, err
}

// WriteShared puts data at name in the shared place d as one file made
// whole: written aside (O_CREAT|O_EXCL|O_NOFOLLOW, 0640, synced), then
// renamed over name. The rename replaces an entry of this user's, never
// follows one; another user's entry there makes it fail (the place is
// sticky), and the error is the system call's.
func (d *Dir) WriteShared(name string, data []byte) error {
	aside, i, err := createAside(d, "."+name+".creating-")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			unix.Unlinkat(d.fd, aside, 0)
		}
	}()
	f, _, err := d.openMine(aside, i)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = unix.Fchmod(int(f.Fd()), sharedFileMode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := unix.Renameat(d.fd, aside, d.fd, name); err != nil {
		return &fs.PathError{Op: "rename", Path: filepath.Join(d.path, name), Err: err}
	}
	ok = true
	return nil
}

// openMine opens the file name that this process just made (want) for
// writing, never following a link, and only that very file.
func (d *Dir) openMine(name string, want Info) (*os.File, Info, error) {
	fd, err := unix.Openat(d.fd, name, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, Info{}, &fs.PathError{Op: "open", Path: filepath.Join(d.path, name), Err: err}
	}
	i, err := Fstat(fd)
	if err == nil && !i.SameAs(want) {
		err = UnsafeShared("%s was replaced while it was written", filepath.Join(d.path, name))
	}
	if err != nil {
		unix.Close(fd)
		return nil, i, err
	}
	return os.NewFile(uintptr(fd), filepath.Join(d.path, name)), i, nil
}

// Remove removes the entry name of d (unlinkat: a link is removed, never
// followed; a directory planted there is removed when it is empty); a
// missing one is no error.
func (d *Dir) Remove(name string) error {
	err := unix.Unlinkat(d.fd, name, 0)
	if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EPERM) { // a directory: EISDIR on Linux, EPERM on macOS
		if i, lerr := d.Lstat(name); lerr == nil && i.typ() == unix.S_IFDIR {
			err = unix.Unlinkat(d.fd, name, unix.AT_REMOVEDIR)
		}
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return &fs.PathError{Op: "remove", Path: filepath.Join(d.path, name), Err: err}
	}
	return nil
}

// Names returns the names in d that start with prefix.
func (d *Dir) Names(prefix string) []string { return d.names(prefix) }

// List returns the names in d that start with prefix, or the error of
// reading d: a listing that failed or was cut short (EMFILE, EIO) is
// never taken for a short one, as Names takes it.
func (d *Dir) List(prefix string) ([]string, error) {
	fd, err := unix.Openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: d.path, Err: err}
	}
	f := os.NewFile(uintptr(fd), d.path)
	defer f.Close()
	all, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range all {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out, nil
}
