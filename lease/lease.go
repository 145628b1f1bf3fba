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
	// PID is the process that holds the lease while it runs (the command
	// of "aliaslease run"), or zero. A live process is a holder, so the
	// lease is never reclaimed under it.
	PID int

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

// Holder is one container that publishes at least one port on an address.
// A container publishing on several addresses is one Holder per address.
type Holder struct {
	// Alias is the host IP of the binding, always valid: read from the
	// container's own bindings, never from its label; unspecified for
	// 0.0.0.0 and ::, which name no alias.
	Alias netip.Addr
	ID    string // container ID
	Name  string // container name, without the leading slash
	Slug  string // value of the SlugLabel label, "" when absent
	State string // Docker's state: running, exited, created, ...
	Port  string // one published binding, "HOSTPORT->PORT/PROTO", for reports
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
	at      instant // TakenAt with the boot-time clock, when the Manager took it
}

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
