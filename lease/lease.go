package lease

import (
	"net/netip"
	"time"
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
	// HeldAt is the last time a reconcile saw the lease live, recorded
	// coarsely (see heldAtDue); zero when never seen. Grace runs from
	// the later of RenewedAt and HeldAt.
	HeldAt time.Time
	// Vacancy is what observations found of the lease without a holder
	// since it was last renewed or seen live.
	Vacancy Vacancy
	// Isolation is the last verdict verify recorded for this generation.
	Isolation Isolation
	// PID is the process that holds the lease while it runs, as the
	// "aliaslease run" of binaries before process trees recorded it (no
	// longer written), or zero. A live process is a holder, so the lease
	// is never reclaimed under it.
	PID int
	// Processes are the process trees recorded as its holders (see
	// ProcessHolder), live or not: a reconcile asks Trees which live.
	Processes []ProcessHolder

	newer string // the record's bytes a newer binary of the schema added, kept as they are
}

// seenAt is when the lease was last known to be wanted: renewed, or seen
// live by a reconcile.
func (l Lease) seenAt() time.Time {
	if l.HeldAt.After(l.RenewedAt) {
		return l.HeldAt
	}
	return l.RenewedAt
}

// SlugLabel is the container label that attributes a holder to a slug.
// Launchers should set it on every container of a bottle's bundle.
const SlugLabel = "aliaslease.slug"

// HolderKind says what a holder is.
type HolderKind string

// Kinds of holders.
const (
	// HolderContainer is a container publishing a port (the zero value,
	// as the inventory reports them).
	HolderContainer HolderKind = ""
	// HolderListener is a socket of the host bound on the alias: a TCP
	// socket listening, a UDP socket bound, whoever owns it.
	HolderListener HolderKind = "listener"
	// HolderProcess is the process tree of "aliaslease run".
	HolderProcess HolderKind = "process"
)

// Holder is one thing that holds an address: a container that publishes
// at least one port on it (one Holder per address it publishes on), a
// socket of the host bound on it, or a run's process tree.
type Holder struct {
	Kind HolderKind
	// Alias is the address held, always valid: a container's from its
	// own bindings (never from its label), unspecified for 0.0.0.0 and
	// ::, which name no alias.
	Alias netip.Addr
	ID    string // container ID; for a listener, "socket:INODE"
	Name  string // container name, without the leading slash; for a listener, "tcp 127.0.0.16:8080"
	Slug  string // value of the SlugLabel label, "" when absent
	Owner string // value of the OwnerLabel label (a uid), "" when absent
	State string // Docker's state: running, exited, created, ...; listening or bound
	Port  string // one published binding, "HOSTPORT->PORT/PROTO", or a listener's "PORT/PROTO", for reports
}

// Snapshot is what the container inventory showed at one moment.
type Snapshot struct {
	// Holders are all containers publishing ports, in any state.
	Holders []Holder
	// TakenAt is when the inventory was asked, before its first call.
	// Classification measures lease age against it rather than against
	// the time the lock was finally taken: a lease renewed after the
	// inventory was asked cannot have shown up in it, and must never be
	// judged by it.
	TakenAt time.Time
	// Containers says what the inventory gave: the holders hold its
	// containers only when it Listed them.
	Containers Containers
	at         instant // TakenAt with the boot-time clock, when the Manager took it
}

// Containers says what the container inventory contributed to a
// snapshot.
type Containers int

// What the inventory gave.
const (
	// Listed: it answered, and its containers are among the holders.
	Listed Containers = iota
	// NoEngine: nothing was there to ask (under auto), so no container
	// can publish anything.
	NoEngine
	// NotAsked: it is off, or its failure was let fall back (a report).
	NotAsked
)

// instant is when the snapshot was taken, on both clocks. A snapshot made
// outside the Manager has only the wall clock: its boot-time reading is
// zero, so no vacancy it observes is ever long (see Vacancy.long) unless
// the grace is zero.
func (s Snapshot) instant() instant {
	if s.at.wall.IsZero() {
		return instant{wall: s.TakenAt}
	}
	return s.at
}
