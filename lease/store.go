package lease

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"syscall"
	"time"

	"github.com/gofrs/flock"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the database schema this package writes and reads.
// A database with a higher version is refused with ErrNewerSchema.
const SchemaVersion = 1

// DefaultLockTimeout is used when Options.LockTimeout is zero.
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

// Lease binds a slug to one alias.
type Lease struct {
	Slug  string
	Alias netip.Addr
	// Generation is fixed when the lease is created and is larger than
	// that of every lease created before it in the same database.
	Generation uint64
	AcquiredAt time.Time
	RenewedAt  time.Time
}

// Options configure Open. A nil *Options means the zero value.
type Options struct {
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
	// Command names the command in the audit log and in the lock file's
	// record of its holder ("acquire", "gc", ...).
	Command string
}

// Store is an open lease database. It holds the lock file from Open until
// Close, so a Store should live only as long as one decision: open, call
// one method, close. A Store is not safe for concurrent use.
type Store struct {
	path    string
	lock    *flock.Flock
	db      *bolt.DB
	ro      bool
	command string
}

// Open locks path's lock file (path + ".lock") and opens the database at
// path. It returns ErrLocked when the lock is not obtained within the
// timeout, ErrNoDatabase when the file is missing and opts.Create is
// unset, and ErrCorrupt or ErrNewerSchema when the file cannot be used;
// in those cases the file is left exactly as it was.
func Open(path string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if !o.Create {
		if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w at %s", ErrNoDatabase, path)
		}
	} else if err := mkdirAll(filepath.Dir(path)); err != nil {
		return nil, err
	}
	lk, err := lockFile(path+".lock", o.LockTimeout, o.ReadOnly, o.Command)
	if err != nil {
		return nil, err
	}
	s := &Store{path: path, lock: lk, ro: o.ReadOnly, command: o.Command}
	if err := s.open(o); err != nil {
		lk.Unlock()
		lk.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) open(o Options) error {
	fi, err := os.Lstat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && o.Create:
		if err := create(s.path); err != nil {
			return err
		}
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w at %s", ErrNoDatabase, s.path)
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%w: %s is not a regular file", ErrCorrupt, s.path)
	}
	if err := checkFile(s.path); err != nil {
		return err
	}
	bo := &bolt.Options{
		Timeout:  o.LockTimeout,
		ReadOnly: o.ReadOnly,
		PageSize: pageSize,
		// Never let bbolt create (and so initialise) a file: one that
		// vanished since the check above is an error, not a new database.
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			return os.OpenFile(name, flag&^os.O_CREATE|syscall.O_NOFOLLOW, perm)
		},
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
func (s *Store) Close() error {
	var err error
	if s.db != nil {
		err = s.db.Close()
		s.db = nil
	}
	if s.lock != nil {
		if uerr := s.lock.Unlock(); err == nil {
			err = uerr
		}
		s.lock.Close()
		s.lock = nil
	}
	return err
}

// Path returns the database path.
func (s *Store) Path() string { return s.path }

// Get returns slug's lease, or ErrNotFound.
func (s *Store) Get(slug string) (Lease, error) {
	var l Lease
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketLeases).Get([]byte(slug))
		if v == nil {
			return fmt.Errorf("%w for %s", ErrNotFound, slug)
		}
		var err error
		l, err = decodeLease(slug, v)
		return err
	})
	return l, err
}

// Leases returns every lease, sorted by alias.
func (s *Store) Leases() ([]Lease, error) {
	var ls []Lease
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		ls, err = readLeases(tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ls, nil
}

// AcquireRequest describes one acquire decision.
type AcquireRequest struct {
	Slug  string
	Pool  Pool
	Now   time.Time
	Grace time.Duration
	// Snapshot is the container inventory, or nil when it was not asked
	// (Docker off, or unreachable under auto): then nothing is reclaimed,
	// adopted or skipped because of a holder.
	Snapshot *Snapshot
	// RenewOnly renews an existing lease and otherwise returns
	// ErrNotFound without writing anything, so a caller can renew without
	// asking the inventory first.
	RenewOnly bool
}

// Outcome says how Acquire satisfied a request.
type Outcome string

// Outcomes of Acquire.
const (
	Created Outcome = "new"     // a new lease on the lowest free alias
	Renewed Outcome = "renewed" // the slug's existing lease, renewed
	Adopted Outcome = "adopted" // a new lease on the alias its labelled container already uses
)

// AcquireResult is what Acquire did.
type AcquireResult struct {
	Lease     Lease
	Outcome   Outcome
	Reclaimed []Decision // stale leases reclaimed on the way
}

// Acquire renews slug's lease if it has one, even if its alias has since
// left the pool. Otherwise it reclaims stale leases (when a snapshot is
// given), adopts an alias the slug's labelled container already publishes
// on, or leases the lowest pool alias that is neither leased nor held. It
// is one transaction. It returns ErrExhausted when no alias is free, and
// ErrNotFound for a RenewOnly request of a slug without a lease.
func (s *Store) Acquire(req AcquireRequest) (AcquireResult, error) {
	if err := ValidateSlug(req.Slug); err != nil {
		return AcquireResult{}, err
	}
	var res AcquireResult
	err := s.update(func(tx *bolt.Tx) error {
		res = AcquireResult{}
		leases := tx.Bucket(bucketLeases)
		aliases := tx.Bucket(bucketAliases)
		key := []byte(req.Slug)
		if v := leases.Get(key); v != nil {
			l, err := decodeLease(req.Slug, v)
			if err != nil {
				return err
			}
			l.RenewedAt = req.Now.UTC()
			res.Lease, res.Outcome = l, Renewed
			if err := leases.Put(key, encodeLease(l)); err != nil {
				return err
			}
			return s.logEvent(tx, req.Now, EventRenew, l, "")
		}
		if req.RenewOnly {
			return fmt.Errorf("%w for %s", ErrNotFound, req.Slug)
		}
		held := map[netip.Addr]bool{}
		if snap := req.Snapshot; snap != nil {
			all, err := readLeases(tx)
			if err != nil {
				return err
			}
			for _, d := range classify(all, snap.Holders, snap.TakenAt, req.Grace) {
				if d.State == Stale {
					if err := s.reclaim(tx, req.Now, d); err != nil {
						return err
					}
					res.Reclaimed = append(res.Reclaimed, d)
				}
			}
			for _, h := range snap.Holders {
				held[h.Alias] = true
			}
		}
		isLeased := func(a netip.Addr) bool { return aliases.Get(aliasKey(a)) != nil }
		alias, outcome := netip.Addr{}, Created
		if req.Snapshot != nil {
			if a, ok := adoptable(req.Slug, req.Snapshot.Holders, req.Pool, isLeased); ok {
				alias, outcome = a, Adopted
			}
		}
		if !alias.IsValid() {
			a, ok := lowestFree(req.Pool, aliases.Cursor(), held)
			if !ok {
				return fmt.Errorf("%w: all %d aliases of %s are leased or held", ErrExhausted, req.Pool.Len(), req.Pool)
			}
			alias = a
		}
		gen, err := nextGeneration(tx)
		if err != nil {
			return err
		}
		now := req.Now.UTC()
		l := Lease{Slug: req.Slug, Alias: alias, Generation: gen, AcquiredAt: now, RenewedAt: now}
		if err := leases.Put(key, encodeLease(l)); err != nil {
			return err
		}
		res.Lease, res.Outcome = l, outcome
		if err := aliases.Put(aliasKey(alias), key); err != nil {
			return err
		}
		kind := EventAcquire
		if outcome == Adopted {
			kind = EventAdopt
		}
		return s.logEvent(tx, req.Now, kind, l, "")
	})
	return res, err
}

// reclaim removes a stale lease and logs why.
func (s *Store) reclaim(tx *bolt.Tx, now time.Time, d Decision) error {
	if err := deleteLease(tx, d.Lease); err != nil {
		return err
	}
	return s.logEvent(tx, now, EventReclaim, d.Lease, d.Reason)
}

// Release ends slug's lease and returns it. A non-zero generation makes
// the release conditional: when the lease is not that generation, it is
// kept and ErrGenerationMismatch is returned along with the current lease.
// A slug without a lease is ErrNotFound.
func (s *Store) Release(slug string, generation uint64) (Lease, error) {
	return s.release(slug, generation, "")
}

// release is Release, logging reason with the event.
func (s *Store) release(slug string, generation uint64, reason string) (Lease, error) {
	if err := ValidateSlug(slug); err != nil {
		return Lease{}, err
	}
	var l Lease
	err := s.update(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketLeases).Get([]byte(slug))
		if v == nil {
			return fmt.Errorf("%w for %s", ErrNotFound, slug)
		}
		var err error
		if l, err = decodeLease(slug, v); err != nil {
			return err
		}
		if generation != 0 && l.Generation != generation {
			return fmt.Errorf("%w: %s holds generation %d, not %d", ErrGenerationMismatch, slug, l.Generation, generation)
		}
		if err := deleteLease(tx, l); err != nil {
			return err
		}
		return s.logEvent(tx, time.Now(), EventRelease, l, reason)
	})
	return l, err
}

// Check verifies the database: bbolt's consistency check of every page,
// then that every lease is readable and that the lease and alias indexes
// agree one to one (an alias leased to one slug, a slug holding one alias).
// Problems are ErrCorrupt.
func (s *Store) Check() error {
	return s.view(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() { // drain: the checker stops only at the end
			if first == nil {
				first = fmt.Errorf("%w: %s: %v", ErrCorrupt, s.path, err)
			}
		}
		if first != nil {
			return first
		}
		leases, err := readLeases(tx)
		if err != nil {
			return err
		}
		aliases := tx.Bucket(bucketAliases)
		for _, l := range leases {
			if got := aliases.Get(aliasKey(l.Alias)); string(got) != l.Slug {
				return fmt.Errorf("%w: %s holds %s, but the alias index names %q", ErrCorrupt, l.Slug, l.Alias, got)
			}
		}
		if n := aliases.Stats().KeyN; n != len(leases) {
			return fmt.Errorf("%w: %d leases but %d aliases indexed", ErrCorrupt, len(leases), n)
		}
		return nil
	})
}

// Reclaim classifies every lease against snap and removes the stale ones,
// in one transaction, returning every decision (not only the stale ones).
// With dryRun it decides the same but writes nothing; a ReadOnly store
// can only do a dry run.
func (s *Store) Reclaim(snap Snapshot, grace time.Duration, dryRun bool) ([]Decision, error) {
	var ds []Decision
	fn := func(tx *bolt.Tx) error {
		all, err := readLeases(tx)
		if err != nil {
			return err
		}
		ds = classify(all, snap.Holders, snap.TakenAt, grace)
		if dryRun {
			return nil
		}
		for _, d := range ds {
			if d.State == Stale {
				if err := s.reclaim(tx, snap.TakenAt, d); err != nil {
					return err
				}
			}
		}
		return nil
	}
	var err error
	if dryRun {
		err = s.view(fn)
	} else {
		err = s.update(fn)
	}
	return ds, err
}

func (s *Store) view(fn func(*bolt.Tx) error) error {
	return boltErr(s.path, guard(func() error { return s.db.View(fn) }))
}

func (s *Store) update(fn func(*bolt.Tx) error) error {
	if s.ro {
		return fmt.Errorf("store %s is open read-only", s.path)
	}
	return boltErr(s.path, guard(func() error { return s.db.Update(fn) }))
}

// guard runs fn and turns a panic or a memory fault inside bbolt, which a
// damaged page can cause long after Open, into ErrCorrupt.
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

func readLeases(tx *bolt.Tx) ([]Lease, error) {
	b := tx.Bucket(bucketLeases)
	var ls []Lease // no capacity hint: Bucket.Stats would walk every page once more
	err := b.ForEach(func(k, v []byte) error {
		l, err := decodeLease(string(k), v)
		if err != nil {
			return err
		}
		ls = append(ls, l)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortLeases(ls)
	return ls, nil
}

func deleteLease(tx *bolt.Tx, l Lease) error {
	if err := tx.Bucket(bucketLeases).Delete([]byte(l.Slug)); err != nil {
		return err
	}
	return tx.Bucket(bucketAliases).Delete(aliasKey(l.Alias))
}

func nextGeneration(tx *bolt.Tx) (uint64, error) {
	meta := tx.Bucket(bucketMeta)
	var g uint64
	if v := meta.Get(keyGeneration); v != nil {
		if len(v) != 8 {
			return 0, fmt.Errorf("%w: generation counter", ErrCorrupt)
		}
		g = binary.BigEndian.Uint64(v)
	}
	g++
	return g, meta.Put(keyGeneration, binary.BigEndian.AppendUint64(nil, g))
}

// lowestFree returns the lowest pool address that has no key in the alias
// index (walked in step by c, so the cost is linear in the pool and the
// leases) and is not held.
func lowestFree(p Pool, c *bolt.Cursor, held map[netip.Addr]bool) (netip.Addr, bool) {
	for _, r := range p.ranges {
		k, _ := c.Seek(u32Key(r.lo))
		for v := r.lo; ; v++ {
			for k != nil && (len(k) != 4 || binary.BigEndian.Uint32(k) < v) {
				k, _ = c.Next()
			}
			taken := k != nil && binary.BigEndian.Uint32(k) == v
			if a := u32ToAddr(v); !taken && !held[a] {
				return a, true
			}
			if v == r.hi {
				break
			}
		}
	}
	return netip.Addr{}, false
}

func aliasKey(a netip.Addr) []byte { return u32Key(addrToU32(a)) }

func u32Key(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// A lease is stored as a version byte, the alias, the generation, and the
// acquired and renewed times in Unix nanoseconds.
const leaseRecordV1, leaseRecordLen = 1, 1 + 4 + 8 + 8 + 8

func encodeLease(l Lease) []byte {
	b := make([]byte, 0, leaseRecordLen)
	b = append(b, leaseRecordV1)
	b = binary.BigEndian.AppendUint32(b, addrToU32(l.Alias))
	b = binary.BigEndian.AppendUint64(b, l.Generation)
	b = binary.BigEndian.AppendUint64(b, uint64(l.AcquiredAt.UnixNano()))
	return binary.BigEndian.AppendUint64(b, uint64(l.RenewedAt.UnixNano()))
}

func decodeLease(slug string, b []byte) (Lease, error) {
	if len(b) != leaseRecordLen || b[0] != leaseRecordV1 {
		return Lease{}, fmt.Errorf("%w: lease record of %q is damaged", ErrCorrupt, slug)
	}
	return Lease{
		Slug:       slug,
		Alias:      u32ToAddr(binary.BigEndian.Uint32(b[1:])),
		Generation: binary.BigEndian.Uint64(b[5:]),
		AcquiredAt: time.Unix(0, int64(binary.BigEndian.Uint64(b[13:]))).UTC(),
		RenewedAt:  time.Unix(0, int64(binary.BigEndian.Uint64(b[21:]))).UTC(),
	}, nil
}

// sortLeases puts leases, read in slug order, in alias order.
func sortLeases(ls []Lease) {
	slices.SortFunc(ls, func(a, b Lease) int { return cmp.Compare(addrToU32(a.Alias), addrToU32(b.Alias)) })
}

// lockFile takes the exclusive (or shared) lock on path within timeout.
// The lock file must be a regular file: a symlink, FIFO or directory
// planted there is refused rather than followed or blocked on.
func lockFile(path string, timeout time.Duration, shared bool, command string) (*flock.Flock, error) {
	fi, err := os.Lstat(path)
	existed := err == nil
	if existed && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("lock file %s is not a regular file (%s); remove it", path, fi.Mode().Type())
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	flag := os.O_CREATE | os.O_RDWR | syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	if existed && shared {
		// flock needs no write access: a reader of a database on a
		// read-only file system can still take the shared lock.
		flag = os.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	}
	lk := flock.New(path, flock.SetFlag(flag), flock.SetPermissions(0o600))
	try := lk.TryLock
	if shared {
		try = lk.TryRLock
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// Poll with a short, growing delay: a lock is usually held for about
	// a millisecond, so a fixed coarse delay would dominate under load.
	delay := 500 * time.Microsecond
	for {
		ok, err := try()
		if err != nil {
			return nil, fmt.Errorf("lock file %s: %w", path, err)
		}
		if ok {
			// A lock file just created got 0600 less the umask; files
			// aliaslease creates are 0600 whatever the umask.
			if !existed {
				if err := os.Chmod(path, 0o600); err != nil {
					lk.Unlock()
					return nil, fmt.Errorf("lock file %s: %w", path, err)
				}
			}
			if !shared {
				recordHolder(path, command)
			}
			return lk, nil
		}
		select {
		case <-ctx.Done():
			lk.Close()
			return nil, fmt.Errorf("%w within %s: %s is held by another process", ErrLocked, timeout, path)
		case <-time.After(delay):
		}
		if delay < 8*time.Millisecond {
			delay *= 2
		}
	}
}

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

const (
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	pageHeaderLen   = 16
	metaChecksumOff = 56
)

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
