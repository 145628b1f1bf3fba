package dockerinv

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/aliaslease/aliaslease/lease"
)

// maxFileSize bounds a file of the Docker configuration: config.json, a
// context's meta.json, a PEM file. Real ones are a few kilobytes.
const maxFileSize = 1 << 20

// readFile reads a file of the Docker configuration, which comes from
// outside (HOME, DOCKER_CONFIG, DOCKER_CERT_PATH), what names its purpose
// in messages ("docker config"). It never blocks: the file is opened
// with O_NONBLOCK, so that a FIFO neither hangs the open nor is read,
// and anything but a regular file is refused. As root (sudo keeping
// HOME), the file must also be one only root can steer: the path is
// resolved, and the file and every directory from / down to it must be
// owned by root and writable by no one else (a sticky directory such as
// /tmp excepted, where others cannot replace what root made); the file
// is then opened with O_NOFOLLOW, so that nothing swapped in meanwhile
// is followed. A refusal wraps lease.ErrUnsafePath and says which file
// and why; a missing file wraps fs.ErrNotExist.
func readFile(what, path string) ([]byte, error) {
	flags := os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	root := os.Geteuid() == 0
	if root {
		resolved, err := trustedPath(what, path)
		if err != nil {
			return nil, err
		}
		path = resolved
		flags |= syscall.O_NOFOLLOW
	}
	f, err := os.OpenFile(path, flags, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, unsafeFile(what, path, "is a symbolic link")
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, unsafeFile(what, path, "is not a regular file (%s)", fileType(fi.Mode()))
	}
	if root {
		if err := trusted(what, path, fi); err != nil {
			return nil, err
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err == nil && len(b) > maxFileSize {
		return nil, fmt.Errorf("%s %s is larger than %d bytes", what, quote(path), maxFileSize)
	}
	return b, err
}

// trustedPath resolves path and checks every directory from / down to
// its file, for root.
func trustedPath(what, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err // fs.ErrNotExist for a missing file
	}
	var dirs []string
	for d := filepath.Dir(resolved); ; d = filepath.Dir(d) {
		dirs = append(dirs, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		fi, err := os.Lstat(dirs[i])
		if err != nil {
			return "", err
		}
		if !fi.IsDir() {
			return "", unsafeFile(what, path, "lies under %s, which is not a directory (%s)", quote(dirs[i]), fileType(fi.Mode()))
		}
		if err := trusted(what, dirs[i], fi); err != nil {
			return "", err
		}
	}
	return resolved, nil
}

// trusted checks that only root can change what fi, at path, holds.
func trusted(what, path string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return unsafeFile(what, path, "has no owner to check")
	}
	sticky := fi.IsDir() && fi.Mode()&fs.ModeSticky != 0
	switch {
	case st.Uid != 0:
		return unsafeFile(what, path, "is owned by uid %d, not root, and aliaslease runs as root (set DOCKER_HOST, or DOCKER_CONFIG to root's own, or use sudo -H)", st.Uid)
	case fi.Mode().Perm()&0o022 != 0 && !sticky:
		return unsafeFile(what, path, "is writable by group or others (mode %04o), and aliaslease runs as root", fi.Mode().Perm())
	}
	return nil
}

// unsafeFile is a refusal of a file named by the Docker configuration.
func unsafeFile(what, path, format string, args ...any) error {
	return fmt.Errorf("%w: %s %s %s", lease.ErrUnsafePath, what, quote(path), fmt.Sprintf(format, args...))
}

// fileType names a file's type for a message.
func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	}
	return "of mode " + m.String()
}
