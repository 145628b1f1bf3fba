package lease

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// mkdirAll creates dir and its missing parents with mode 0700, whatever
// the umask; directories that exist are left alone.
func mkdirAll(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	if err := mkdirAll(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// create writes a new, empty database aside in the same directory and
// renames it into place, so that the path never holds a half-made file.
// It runs under the lock; leftovers of an interrupted creation are removed
// first.
func create(path string) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	prefix := "." + base + ".creating-"
	if old, _ := filepath.Glob(filepath.Join(dir, globEscape(prefix)+"*")); len(old) > 0 {
		for _, f := range old {
			os.Remove(f)
		}
	}
	f, err := os.CreateTemp(dir, prefix+"*")
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	tmp := f.Name()
	f.Close()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second, PageSize: pageSize})
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(keySchema, binary.BigEndian.AppendUint32(nil, SchemaVersion)); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketLeases); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketAliases); err != nil {
			return err
		}
		_, err = tx.CreateBucket(bucketLog)
		return err
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	crashPoint("create-midway") // a whole database aside, not yet in place
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	ok = true
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func globEscape(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', '\\':
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// checkFile validates a database file's meta pages before bbolt maps it.
// bbolt initialises an empty file as a new database, panics or dies of
// SIGBUS on a truncated one, and never compares the file size with the
// size its meta page records; this check refuses all of those, reading
// only.
func checkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
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
	if len(valid) == 0 {
		return fmt.Errorf("%w: %s is not a bbolt database (no valid meta page)", ErrCorrupt, path)
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
