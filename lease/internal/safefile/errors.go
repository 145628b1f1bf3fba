package safefile

import (
	"errors"
	"fmt"
)

// Sentinel errors, wrapped with context; test for them with errors.Is.
// Package lease exports these very values under the same names.
var (
	// ErrUnsafePath is returned when a directory or file on the path could
	// be steered by another user: owned by someone other than this user or
	// root, or writable by group or others, a file with more than one
	// link, or a symbolic link another user owns. Nothing is created or
	// changed.
	ErrUnsafePath = errors.New("unsafe database path")

	// ErrLocked is returned when the lock file could not be locked within
	// the timeout.
	ErrLocked = errors.New("lock not obtained")

	// ErrCorrupt is returned when a database file cannot be read as a
	// bbolt database: empty, truncated, or with damaged meta pages.
	ErrCorrupt = errors.New("database unreadable")

	// ErrNotDatabase is returned when the database path holds something
	// that is not a bbolt database at all: a regular file without a bbolt
	// meta page (a path that is not a regular file is ErrUnsafePath). It wraps ErrCorrupt.
	ErrNotDatabase = fmt.Errorf("%w: not a database", ErrCorrupt)
)

// refusal is an ErrUnsafePath (or a sentinel wrapping it) in words of
// its own: what the shared place holds is no database path, so the
// sentinel's words would misname it.
type refusal struct {
	msg  string
	wrap error
}

func (e *refusal) Error() string { return e.msg }
func (e *refusal) Unwrap() error { return e.wrap }

// UnsafeShared is the error for a shared place, or an entry in it, that
// the rules of a shared place refuse; it wraps ErrUnsafePath.
func UnsafeShared(format string, a ...any) error {
	return &refusal{msg: fmt.Sprintf(format, a...), wrap: ErrUnsafePath}
}
