// Package lease keeps slug→alias leases for aliaslease: which sandbox
// ("bottle") owns which loopback alias, persistently, in a bbolt file
// guarded by an exclusive flock on a lock file beside it.
//
// # The door
//
// Manager is the package's one way in: every command of the aliaslease
// CLI is one of its methods. It asks the Inventory before taking the lock
// (so a slow Docker never holds up other processes), decides under the
// lock on the database as it is then, and brings the alias up on the
// Interface after releasing the lock, removing a new lease again if that
// fails.
//
// # Storage
//
// The database is opened for one decision at a time: the lock (shared
// for reads), one bbolt transaction, then both released. Every change is
// one transaction, so an alias is never leased to two slugs and a slug
// never holds two aliases, however many processes run and wherever one
// is killed. A new database is written aside and renamed into place, so
// an empty or short file at the path is never taken for a new database:
// it is ErrCorrupt, and the file is never modified.
//
// Paths cannot be steered: every file is reached through a directory
// descriptor walked from the root without following links, and a
// directory or file another user owns or can write, or a file with more
// than one link, is refused (ErrUnsafePath). Read-only opens create
// nothing, and no lock file is made beside a file that is not a database
// (ErrNotDatabase). Every write checks that leases and the alias index
// agree for what it touches.
//
// # Policy
//
// Allocation policy is kept apart from storage. ParsePool and
// ValidateSlug check input. The reconcile step (classify) judges each
// lease against the holders a container inventory reported, without side
// effects: a lease with a holder is Live (or Conflict when the holder is
// labelled for another slug), one without is Pending within the grace
// period and Stale after it; only Stale leases are ever reclaimed, and
// held but unleased aliases (Foreign) are never handed out.
//
// Errors wrap the sentinels of this package; test them with errors.Is.
package lease
