package lease

import (
	"errors"
	"fmt"

	"github.com/aliaslease/aliaslease/lease/internal/safefile"
)

// Sentinel errors. Functions of this package wrap them with context; test
// for them with errors.Is. Those of the file layer are safefile's very
// values, so that its errors match them.
var (
	// ErrInvalidSlug is returned when a slug is not 1-128 characters of
	// A-Z a-z 0-9 . _ - starting with a letter or a digit.
	ErrInvalidSlug = errors.New("invalid slug")

	// ErrInvalidPool is returned by ParsePool for a SPEC it refuses.
	ErrInvalidPool = errors.New("invalid pool")

	// ErrExhausted is returned by Acquire when every pool alias is leased
	// or held and no stale lease could be reclaimed.
	ErrExhausted = errors.New("pool exhausted")

	// ErrLocked is returned by every Manager method that opens the
	// database when the lock file could not be locked within
	// Manager.LockTimeout.
	ErrLocked = safefile.ErrLocked

	// ErrCorrupt is returned by every Manager method that opens or reads
	// the database, when the database file is empty, truncated, not a
	// bbolt file, not an aliaslease database, or internally inconsistent.
	// The file is never modified once this is detected.
	ErrCorrupt = safefile.ErrCorrupt

	// ErrNewerSchema is returned when opening a database that was written by
	// a newer aliaslease whose schema this one does not know. It wraps
	// ErrCorrupt, since the file cannot be read either way.
	ErrNewerSchema = errors.New("database has a newer schema")

	// ErrUnsafePath is returned by every Manager method that opens the
	// database when a directory or
	// file on the database's path could be steered by another user: a
	// directory, database or lock file owned by someone other than this
	// user or root, or writable by group or others, a database or lock
	// file with more than one link, or a symbolic link another user
	// owns. Nothing is created or changed.
	ErrUnsafePath = safefile.ErrUnsafePath

	// ErrNotDatabase is returned by every Manager method that opens the
	// database when the path holds
	// something that is not a bbolt database at all: a regular file
	// without a bbolt meta page (a path that is not a regular file is
	// ErrUnsafePath). It wraps ErrCorrupt. Moving such a
	// file aside would not help: the path is likely wrong.
	ErrNotDatabase = safefile.ErrNotDatabase

	// ErrNoDatabase is returned when a database that only acquire may
	// create does not exist. The Manager treats it as an empty database
	// for every command that only reads.
	ErrNoDatabase = errors.New("no database")

	// ErrNotFound is returned by Release when the slug holds no lease.
	ErrNotFound = errors.New("no lease")

	// ErrGenerationMismatch is returned by Release when the slug's lease
	// is not the generation the caller named.
	ErrGenerationMismatch = errors.New("generation mismatch")

	// ErrHeld is returned by Release when a process tree recorded as a
	// holder of the lease still lives (a run still going); nothing was
	// changed. ReleaseForce ends those trees first.
	ErrHeld = errors.New("held by a running process tree")

	// ErrInventory is returned when the container inventory (Docker) was
	// needed and could not be read in full.
	ErrInventory = errors.New("container inventory unavailable")

	// ErrNoEngine is returned by an Inventory when nothing is there to
	// ask: the socket does not exist or the connection is refused, so no
	// engine runs and no container can publish anything. It wraps
	// ErrInventory; only this failure lets InventoryAuto fall back to
	// the leases alone.
	ErrNoEngine = fmt.Errorf("%w: no engine there", ErrInventory)

	// ErrListeners is returned when the host's listeners were needed and
	// could not be read in full: what holds an alias is then not known.
	ErrListeners = errors.New("the host's listeners could not be read")

	// ErrEndpoint is returned by an Inventory whose endpoint cannot be
	// used as written: not a URL, an unknown context, an unsupported
	// kind such as ssh://. It is bad input, not a Docker failure.
	ErrEndpoint = errors.New("unusable docker endpoint")

	// ErrInterface is returned by Acquire when the alias could not be
	// brought up on the loopback interface; the new lease is gone again.
	ErrInterface = errors.New("alias not usable on the interface")
)

// ErrExists is returned by Recover when a readable database is already
// at the path and force was not given.
var ErrExists = errors.New("database exists")
