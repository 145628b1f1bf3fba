package lease

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// openAt opens name in d for a check or for use: a symbolic link,
// FIFO, device or directory is refused from an lstat of the name, before
// any open that could block or act on a device; then it is opened with
// O_NOFOLLOW|O_NONBLOCK, checked again on the descriptor (the same file,
// and checkFileOwner's rules), and returned in blocking mode. what names
// the file in messages ("database", "lock file"); a missing file is
// fs.ErrNotExist.
func openAt(d *dirHandle, name string, flag int, what string) (*os.File, statInfo, error) {
	path := filepath.Join(d.path, name)
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, statInfo{}, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	before := toInfo(&st)
	if before.typ() != unix.S_IFREG {
		return nil, before, notRegular(what, path, before)
	}
	fd, err := unix.Openat(d.fd, name, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, before, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	i, err := fstat(fd)
	switch {
	case err != nil:
	case i.typ() != unix.S_IFREG:
		err = notRegular(what, path, i)
	case !i.sameAs(before):
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
// something other than a regular file. For the database it is
// ErrCorrupt: the path cannot be read as one, and it is left alone.
func notRegular(what, path string, i statInfo) error {
	typ := fs.FileMode(0)
	switch i.typ() {
	case unix.S_IFLNK:
		typ = fs.ModeSymlink
	case unix.S_IFDIR:
		typ = fs.ModeDir
	case unix.S_IFIFO:
		typ = fs.ModeNamedPipe
	case unix.S_IFSOCK:
		typ = fs.ModeSocket
	case unix.S_IFCHR:
		typ = fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		typ = fs.ModeDevice
	}
	if what == "database" {
		return fmt.Errorf("%w: %s is not a regular file but %s", ErrNotDatabase, path, kindOf(typ))
	}
	return fmt.Errorf("%s %s is not a regular file but %s; remove it", what, path, kindOf(typ))
}

// boltOpener is bbolt's OpenFile for the file name in d: through the
// directory, never creating, never following a link, and only the very
// file that was checked or created (want: same device and inode).
func boltOpener(d *dirHandle, name string, want statInfo) func(string, int, os.FileMode) (*os.File, error) {
	return func(_ string, flag int, _ os.FileMode) (*os.File, error) {
		f, i, err := openAt(d, name, flag&^os.O_CREATE, "database")
		if err != nil {
			return nil, err
		}
		if !i.sameAs(want) {
			f.Close()
			return nil, fmt.Errorf("database %s was replaced while it was opened", f.Name())
		}
		return f, nil
	}
}

// initDB fills a new database: its buckets and schema, then fill's
// records (nil for none), and the mark that a verifying writer wrote it.
func initDB(fill func(*bolt.Tx) error) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(keySchema, binary.BigEndian.AppendUint32(nil, SchemaVersion)); err != nil {
			return err
		}
		if err := setSeenFloor(tx, noLeaseFloor); err != nil {
			return err
		}
		for _, b := range [][]byte{bucketLeases, bucketAliases, bucketLog} {
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		if fill != nil {
			if err := fill(tx); err != nil {
				return err
			}
		}
		return markVerified(tx)
	}
}

// create writes a new database named base in d, filled by fill, aside
// in the same directory (a fresh name, O_CREAT|O_EXCL|O_NOFOLLOW, 0600)
// and renames it into place, so that the path never holds a half-made
// file, then syncs the directory. It runs under the lock; leftovers of an
// interrupted creation are removed first. It returns the new file's
// identity.
func create(d *dirHandle, base string, fill func(*bolt.Tx) error) (statInfo, error) {
	prefix := "." + base + ".creating-"
	removeLeftovers(d, prefix)
	name, i, err := createAside(d, prefix)
	if err != nil {
		return i, fmt.Errorf("create database: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Unlinkat(d.fd, name, 0)
		}
	}()
	db, err := bolt.Open(filepath.Join(d.path, name), 0o600, &bolt.Options{Timeout: time.Second, PageSize: pageSize, OpenFile: boltOpener(d, name, i)})
	if err != nil {
		return i, fmt.Errorf("create database: %w", err)
	}
	err = db.Update(initDB(fill))
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return i, fmt.Errorf("create database: %w", err)
	}
	crashPoint("create-midway") // a whole database aside, not yet in place
	if err := unix.Renameat(d.fd, name, d.fd, base); err != nil {
		return i, fmt.Errorf("create database: %w", &fs.PathError{Op: "rename", Path: filepath.Join(d.path, base), Err: err})
	}
	ok = true
	return i, syncDir(d)
}

// createAside makes an empty file with a fresh name starting with prefix
// in d, and returns its name and identity.
func createAside(d *dirHandle, prefix string) (string, statInfo, error) {
	for {
		b := make([]byte, 8)
		rand.Read(b)
		name := prefix + hex.EncodeToString(b)
		fd, err := unix.Openat(d.fd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return "", statInfo{}, &fs.PathError{Op: "create", Path: filepath.Join(d.path, name), Err: err}
		}
		err = unix.Fchmod(fd, 0o600) // 0600 whatever the umask
		i, serr := fstat(fd)
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

// removeLeftovers removes files of d whose names start with prefix:
// the leftovers of an interrupted creation. unlinkat removes a name, and
// never follows one.
func removeLeftovers(d *dirHandle, prefix string) {
	fd, err := unix.Openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), d.path)
	names, _ := f.Readdirnames(-1)
	f.Close()
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			unix.Unlinkat(d.fd, n, 0)
		}
	}
}

func syncDir(d *dirHandle) error {
	if err := unix.Fsync(d.fd); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("sync %s: %w", d.path, err)
	}
	return nil
}

// checkFile validates a database file's meta pages before bbolt maps it.
// bbolt initialises an empty file as a new database, panics or dies of
// SIGBUS on a truncated one, and never compares the file size with the
// size its meta page records; this check refuses all of those, reading
// only. f is the file at path, of size bytes.
func checkFile(f io.ReaderAt, path string, size int64) error {
	if size == 0 {
		return fmt.Errorf("%w: %s is empty", ErrCorrupt, path)
	}
	var valid []boltMeta
	if m, ok := readMeta(f, 0); ok {
		valid = append(valid, m)
		if m1, ok := readMeta(f, int64(m.pageSize)); ok {
			valid = append(valid, m1)
		}
	} else {
		// The first meta page is damaged; bbolt falls back to the second,
		// whose offset is the page size, so try each it could be.
		for ps := int64(1024); ps <= 1<<16; ps *= 2 {
			if m1, ok := readMeta(f, ps); ok && int64(m1.pageSize) == ps {
				valid = append(valid, m1)
				break
			}
		}
	}
	if len(valid) == 0 && !looksLikeBolt(f) {
		return fmt.Errorf("%w: %s is not a bbolt database (no meta page)", ErrNotDatabase, path)
	}
	if len(valid) == 0 {
		return fmt.Errorf("%w: %s is a damaged bbolt database (no valid meta page)", ErrCorrupt, path)
	}
	for _, m := range valid {
		need := int64(m.pgid) * int64(m.pageSize)
		if need > size || int64(2*m.pageSize) > size {
			return fmt.Errorf("%w: %s is truncated (%d bytes, its meta page records %d)", ErrCorrupt, path, size, need)
		}
		if m.root >= m.pgid || (m.freelist >= m.pgid && m.freelist != ^uint64(0)) {
			return fmt.Errorf("%w: %s has a meta page pointing past its end", ErrCorrupt, path)
		}
	}
	return nil
}

// boltMeta is the part of bbolt's meta page this package checks. Its
// layout (after a 16-byte page header, in native byte order) is
// magic, version, page size, flags (uint32 each), root page id and
// sequence, freelist page id, high-water page id, txid, checksum (uint64
// each); the checksum is FNV-64a of everything before it.
type boltMeta struct {
	pageSize       uint32
	root, freelist uint64
	pgid           uint64
}

func readMeta(r io.ReaderAt, off int64) (boltMeta, bool) {
	var b [pageHeaderLen + metaChecksumOff + 8]byte
	if _, err := r.ReadAt(b[:], off); err != nil {
		return boltMeta{}, false
	}
	m := b[pageHeaderLen:]
	ne := binary.NativeEndian
	if ne.Uint32(m[0:]) != boltMagic || ne.Uint32(m[4:]) != boltVersion {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	h.Write(m[:metaChecksumOff])
	if h.Sum64() != ne.Uint64(m[metaChecksumOff:]) {
		return boltMeta{}, false
	}
	ps := ne.Uint32(m[8:])
	if ps < 1024 || ps > 1<<16 || ps&(ps-1) != 0 {
		return boltMeta{}, false
	}
	return boltMeta{
		pageSize: ps,
		root:     ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]),
		pgid:     ne.Uint64(m[40:]),
	}, true
}

// looksLikeBolt says whether a file holds a bbolt meta page's magic
// number where bbolt would look for one (page 0, or the second meta
// page at any page size), valid checksum or not: a damaged bbolt
// database rather than some other file.
func looksLikeBolt(f io.ReaderAt) bool {
	for off := int64(0); off <= 1<<16; off = max(1024, 2*off) {
		var b [pageHeaderLen + 8]byte
		if _, err := f.ReadAt(b[:], off); err != nil {
			return false
		}
		m := b[pageHeaderLen:]
		if binary.NativeEndian.Uint32(m[0:]) == boltMagic && binary.NativeEndian.Uint32(m[4:]) == boltVersion {
			return true
		}
	}
	return false
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
