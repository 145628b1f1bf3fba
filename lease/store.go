package lease

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/aliaslease/aliaslease/lease/internal/safefile"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the database schema this package writes and reads.
// A database with a higher version is refused with ErrNewerSchema.
// Version 2 added held_at and the process holder to lease records; a
// version 1 database is read as it is and marked 2 by its first write,
// so that an older aliaslease refuses it instead of calling its new
// records damaged.
const SchemaVersion = 2

// DefaultLockTimeout is used when Manager.LockTimeout is zero.
const DefaultLockTimeout = 10 * time.Second

// pageSize is fixed so that a database moves between machines of
// different page sizes (4 KiB Linux, 16 KiB Apple silicon) unchanged.
const pageSize = 4096

var (
	bucketMeta    = []byte("meta")
	bucketLeases  = []byte("leases")  // slug -> encoded lease
	bucketAliases = []byte("aliases") // 4-byte alias -> slug
	keySchema     = []byte("schema")
	keyGeneration = []byte("generation") // last generation handed out
)

// storeOptions configure openStore. A nil *storeOptions means the zero value.
type storeOptions struct {
	// LockTimeout bounds the wait for the lock file; zero means
	// DefaultLockTimeout.
	LockTimeout time.Duration
	// ReadOnly takes a shared lock and opens the database read-only, so
	// that readers run side by side. Mutating methods then fail.
	ReadOnly bool
	// Create creates the database (and its directory, 0700) when it does
	// not exist. Without it, a missing database is ErrNoDatabase and
	// nothing is created.
	Create bool
	// Trees tells which recorded process trees live (nil: every one).
	Trees Trees
	// Command names the command in the audit log and in the lock file's
	// record of its holder ("acquire", "gc", ...).
	Command string
	// Shared is the shared place's directory ("" for none; see
	// Manager.Shared).
	Shared string
	// Dir is the database's directory, opened already by OpenDir on the
	// path's directory: the open walks nothing and leaves Dir open, so
	// that the opens of one decision walk the path once. Nil walks it.
	Dir *safefile.Dir
	// Warn receives what failed after a commit (see afterCommit); nil
	// drops it.
	Warn func(error)
}

// withDefaults returns a copy of o (the zero value for nil) with every
// unset option at its default.
func (o *storeOptions) withDefaults() storeOptions {
	var out storeOptions
	if o != nil {
		out = *o
	}
	if out.LockTimeout <= 0 {
		out.LockTimeout = DefaultLockTimeout
	}
	return out
}

// store is an open lease database. It holds the lock file from openStore until
// Close, so a store should live only as long as one decision: open, call
// one method, close. A store is not safe for concurrent use.
type store struct {
	ctx     context.Context // its end stops every later commit
	path    string
	lock    *safefile.Lock // nil when the database has no lock file (see lockDB)
	db      *bolt.DB
	ro      bool
	command string
	trees   Trees // tells which recorded process trees live; nil: all do
	shared  string
	timeout time.Duration
	warn    func(error) // nil drops warnings
}

// openStore locks path's lock file (path + ".lock") and opens the database at
// path. It returns ErrLocked when the lock is not obtained within the
// timeout, ErrNoDatabase when the file is missing and opts.Create is
// unset, ErrCorrupt or ErrNewerSchema when the file cannot be used, and
// ErrUnsafePath when a directory or file on the way fails the ownership
// rules; in those cases the file is left exactly as it was.
//
// openStore never follows a symbolic link another user could have planted,
// and reaches every file through its directory's descriptor; see
// safefile's OpenDir and Dir.OpenAt. Only with opts.Create does it make anything: the
// directories, the lock file, the database.
func openStore(path string, opts *storeOptions) (*store, error) {
	return openStoreCtx(context.Background(), path, opts)
}

// openStoreCtx is openStore, bounded by ctx as well: the wait for the lock
// ends when ctx does, and once ctx has ended no transaction of the store
// commits (each returns ctx.Err() instead), so that nothing is changed
// after an interruption.
func openStoreCtx(ctx context.Context, path string, opts *storeOptions) (*store, error) {
	if countOpen != nil {
		countOpen()
	}
	o := opts.withDefaults()
	base := filepath.Base(path)
	if base == "." || base == ".." || base == "/" || strings.HasSuffix(path, "/") {
		return nil, fmt.Errorf("database path %s names a directory, not a file", path)
	}
	d := o.Dir
	if d == nil {
		var err error
		if d, err = openDir(path, o.Create); err != nil {
			return nil, err
		}
		defer d.Close()
	}
	s := &store{ctx: ctx, path: path, ro: o.ReadOnly, command: o.Command, trees: o.Trees, shared: o.Shared, timeout: o.LockTimeout, warn: o.Warn}
	vet := func() error { // a database found without a lock file
		v := &store{path: path, ro: true}
		err := v.open(d, base, storeOptions{ReadOnly: true, LockTimeout: o.LockTimeout})
		if errors.Is(err, ErrNoDatabase) {
			return nil
		}
		v.Close()
		return err
	}
	var err error
	if s.lock, err = lockDB(ctx, d, base, o, vet); err != nil {
		return nil, err
	}
	if err := s.open(d, base, o); err != nil {
		s.lock.Unlock()
		return nil, err
	}
	return s, nil
}

// countOpen, when set (by tests), is called on every open of a store.
var countOpen func()

// openDir opens the directory of the database at path (see safefile's
// OpenDir), creating it with create; a missing one is ErrNoDatabase
// without.
func openDir(path string, create bool) (*safefile.Dir, error) {
	d, err := safefile.OpenDir(filepath.Dir(path), create)
	if errors.Is(err, fs.ErrNotExist) && !create {
		return nil, fmt.Errorf("%w at %s", ErrNoDatabase, path)
	}
	return d, err
}

// open opens the database base in d under the lock: it checks the file
// (or creates it, with o.Create), then hands bbolt that very file.
func (s *store) open(d *safefile.Dir, base string, o storeOptions) error {
	f, i, err := d.OpenAt(base, os.O_RDONLY, "database")
	switch {
	case errors.Is(err, fs.ErrNotExist) && o.Create:
		if i, err = create(d, base, nil); err != nil {
			return err
		}
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w at %s", ErrNoDatabase, s.path)
	case err != nil:
		return err
	default:
		err = safefile.CheckFile(f, s.path, i.Size())
		f.Close()
		if err != nil {
			return err
		}
	}
	bo := &bolt.Options{
		Timeout:  o.LockTimeout,
		ReadOnly: o.ReadOnly,
		PageSize: pageSize,
		// Never let bbolt create (and so initialise) a file, follow a
		// link, or open anything but the file just checked.
		OpenFile: d.Opener(base, i),
	}
	err = guard(func() error {
		db, err := bolt.Open(s.path, 0o600, bo)
		if err != nil {
			return err
		}
		s.db = db
		return db.View(checkSchema)
	})
	if err != nil {
		if s.db != nil {
			s.db.Close()
			s.db = nil
		}
		return boltErr(s.path, err)
	}
	return nil
}

// Close closes the database and releases the lock. Closing twice is a
// no-op.
func (s *store) Close() error {
	var err error
	if s.db != nil {
		err = s.db.Close()
		s.db = nil
	}
	if uerr := s.lock.Unlock(); err == nil {
		err = uerr
	}
	s.lock = nil
	return err
}

func (s *store) view(fn func(*bolt.Tx) error) error {
	return boltErr(s.path, guard(func() error { return s.db.View(fn) }))
}

// update runs fn in one write transaction. It commits only if s.ctx has
// not ended by the time fn returns: a change decided before an
// interruption is rolled back, never written after it. Before fn, verify
// refuses a database whose records contradict each other (ErrCorrupt:
// nothing is written).
func (s *store) update(fn func(*bolt.Tx) error) error {
	if s.ro {
		return fmt.Errorf("store %s is open read-only", s.path)
	}
	return boltErr(s.path, guard(func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			if err := s.ctxErr(); err != nil {
				return err
			}
			if err := verify(tx); err != nil {
				return err
			}
			if err := fn(tx); err != nil {
				return err
			}
			if err := upgradeSchema(tx); err != nil {
				return err
			}
			if err := markVerified(tx); err != nil {
				return err
			}
			return s.ctxErr()
		})
	}))
}

func (s *store) ctxErr() error {
	if s.ctx == nil {
		return nil
	}
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("not committed: %w", err)
	}
	return nil
}

// upgradeSchema marks a version 1 database as version 2 on its first
// write, since that write may hold version 2 records.
func upgradeSchema(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if v := meta.Get(keySchema); len(v) == 4 && binary.BigEndian.Uint32(v) >= SchemaVersion {
		return nil
	}
	return meta.Put(keySchema, binary.BigEndian.AppendUint32(nil, SchemaVersion))
}

// guard runs fn and turns a panic or a memory fault inside bbolt, which a
// damaged page can cause long after opening, into ErrCorrupt.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	return fn()
}

// boltErr maps bbolt's errors to this package's sentinels.
func boltErr(path string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("%w: database %s is held open by another program", ErrLocked, path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrInvalidMapping):
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	return err
}

func checkSchema(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil || tx.Bucket(bucketLeases) == nil || tx.Bucket(bucketAliases) == nil {
		return fmt.Errorf("%w: not an aliaslease database (buckets missing)", ErrCorrupt)
	}
	v := meta.Get(keySchema)
	if len(v) != 4 {
		return fmt.Errorf("%w: schema version missing", ErrCorrupt)
	}
	if n := binary.BigEndian.Uint32(v); n > SchemaVersion {
		return fmt.Errorf("%w: %w: version %d, this aliaslease reads up to %d; use a newer aliaslease", ErrCorrupt, ErrNewerSchema, n, SchemaVersion)
	} else if n == 0 {
		return fmt.Errorf("%w: schema version 0", ErrCorrupt)
	}
	return nil
}
