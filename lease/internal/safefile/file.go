package safefile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// OpenAt opens name in d for a check or for use: a symbolic link,
// FIFO, device or directory is refused from an lstat of the name, before
// any open that could block or act on a device; then it is opened with
// O_NOFOLLOW|O_NONBLOCK, checked again on the descriptor (the same file,
// and checkFileOwner's rules), and returned in blocking mode. what names
// the file in messages ("database", "lock file"); a missing file is
// fs.ErrNotExist.
func (d *Dir) OpenAt(name string, flag int, what string) (*os.File, Info, error) {
	path := filepath.Join(d.path, name)
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, Info{}, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	before := toInfo(&st)
	if before.typ() != unix.S_IFREG {
		return nil, before, notRegular(what, path, before)
	}
	fd, err := unix.Openat(d.fd, name, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, before, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	i, err := Fstat(fd)
	switch {
	case err != nil:
	case i.typ() != unix.S_IFREG:
		err = notRegular(what, path, i)
	case !i.SameAs(before):
		err = fmt.Errorf("%s %s was replaced while it was opened", what, path)
	default:
		if err = checkFileOwner(what, path, i); err == nil {
			err = unix.SetNonblock(fd, false)
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, i, err
	}
	return os.NewFile(uintptr(fd), path), i, nil
}

// notRegular is the error for a database or lock path that holds
// something other than a regular file: unsafe (exit 8, "linked, not a
// regular file"), for the database as for its lock, and left alone.
func notRegular(what, path string, i Info) error {
	typ := fileType(i)
	if what == "database" {
		return unsafePath("%s %s is not a regular file but %s; name the database file itself with --db (a link there is never followed)", what, path, kindOf(typ))
	}
	return unsafePath("%s %s is not a regular file but %s; remove it", what, path, kindOf(typ))
}

// Opener is bbolt's OpenFile for the database name in d: through the
// directory, never creating, never following a link, and only the very
// file that was checked or created (want: same device and inode).
func (d *Dir) Opener(name string, want Info) func(string, int, os.FileMode) (*os.File, error) {
	return func(_ string, flag int, _ os.FileMode) (*os.File, error) {
		f, i, err := d.OpenAt(name, flag&^os.O_CREATE, "database")
		if err != nil {
			return nil, err
		}
		if !i.SameAs(want) {
			f.Close()
			return nil, fmt.Errorf("database %s was replaced while it was opened", f.Name())
		}
		return f, nil
	}
}

// Create makes the file base in d without the path ever holding a
// half-made file: fill writes it aside in the same directory under a
// fresh name (O_CREAT|O_EXCL|O_NOFOLLOW, 0600) whose identity it is
// given, then it is renamed into place (renameat) and the directory is
// synced. It runs under the lock; leftovers of an interrupted creation
// are removed first. what names the file in messages ("database"). It
// returns the new file's identity.
func (d *Dir) Create(base, what string, fill func(name string, i Info) error) (Info, error) {
	prefix := "." + base + ".creating-"
	removeLeftovers(d, prefix)
	name, i, err := createAside(d, prefix)
	if err != nil {
		return i, fmt.Errorf("create %s: %w", what, err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Unlinkat(d.fd, name, 0)
		}
	}()
	if err := fill(name, i); err != nil {
		return i, fmt.Errorf("create %s: %w", what, err)
	}
	if err := unix.Renameat(d.fd, name, d.fd, base); err != nil {
		return i, fmt.Errorf("create %s: %w", what, &fs.PathError{Op: "rename", Path: filepath.Join(d.path, base), Err: err})
	}
	ok = true
	return i, d.Sync()
}

// createAside makes an empty file with a fresh name starting with prefix
// in d, and returns its name and identity.
func createAside(d *Dir, prefix string) (string, Info, error) {
	for {
		b := make([]byte, 8)
		rand.Read(b)
		name := prefix + hex.EncodeToString(b)
		fd, err := unix.Openat(d.fd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return "", Info{}, &fs.PathError{Op: "create", Path: filepath.Join(d.path, name), Err: err}
		}
		err = unix.Fchmod(fd, 0o600) // 0600 whatever the umask
		i, serr := Fstat(fd)
		unix.Close(fd)
		if err == nil {
			err = serr
		}
		if err != nil {
			unix.Unlinkat(d.fd, name, 0)
		}
		return name, i, err
	}
}

// Leftovers returns the names of the leftovers of an interrupted creation
// of base in d, and removes them unless dryRun: only names Create itself
// gives its files ("."+base+".creating-"), never followed.
func (d *Dir) Leftovers(base string, dryRun bool) []string {
	prefix := "." + base + ".creating-"
	names := d.names(prefix)
	if !dryRun {
		for _, n := range names {
			unix.Unlinkat(d.fd, n, 0)
		}
	}
	return names
}

// names returns the names in d that start with prefix.
func (d *Dir) names(prefix string) []string {
	fd, err := unix.Openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), d.path)
	all, _ := f.Readdirnames(-1)
	f.Close()
	var out []string
	for _, n := range all {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// removeLeftovers removes files of d whose names start with prefix:
// the leftovers of an interrupted creation. unlinkat removes a name, and
// never follows one.
func removeLeftovers(d *Dir, prefix string) {
	for _, n := range d.names(prefix) {
		unix.Unlinkat(d.fd, n, 0)
	}
}

// Sync syncs the directory, so that the names made, renamed or removed in
// it survive a power cut.
func (d *Dir) Sync() error {
	if err := unix.Fsync(d.fd); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("sync %s: %w", d.path, err)
	}
	return nil
}

// Rename renames from to to in d (renameat, never following a link);
// the error is the system call's.
func (d *Dir) Rename(from, to string) error { return unix.Renameat(d.fd, from, d.fd, to) }

// Lstat is the Info of name in d, a symbolic link not followed.
func (d *Dir) Lstat(name string) (Info, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return Info{}, err
	}
	return toInfo(&st), nil
}

// kindOf names a file type for a message: "a symbolic link", not "L---------".
func kindOf(m fs.FileMode) string {
	switch t := m.Type(); {
	case t&fs.ModeSymlink != 0:
		return "a symbolic link"
	case t&fs.ModeDir != 0:
		return "a directory"
	case t&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeDevice != 0:
		return "a device"
	default:
		return "of type " + t.String()
	}
}

// fileType is the fs.FileMode type of i, for kindOf.
func fileType(i Info) fs.FileMode {
	switch i.typ() {
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	}
	return 0
}
