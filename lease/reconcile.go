package lease

import (
	"cmp"
	"net/netip"
	"slices"
	"time"
)

// SlugLabel is the container label that attributes a holder to a slug.
// Launchers should set it on every container of a bottle's bundle.
const SlugLabel = "aliaslease.slug"

// Holder is one container that publishes at least one port on an address.
// A container publishing on several addresses is one Holder per address.
type Holder struct {
	Alias netip.Addr // host IP of the binding; unspecified for 0.0.0.0 and ::
	ID    string     // container ID
	Name  string     // container name, without the leading slash
	Slug  string     // value of the SlugLabel label, "" when absent
	State string     // Docker's state: running, exited, created, ...
	Port  string     // one published binding, "HOSTPORT->PORT/PROTO", for reports
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
}

// State is the state of a leased or held alias.
type State string

// The states of an alias, as list and gc print them.
const (
	Live     State = "live"     // leased, and a holder publishes on it
	Pending  State = "pending"  // leased, no holder, renewed within the grace period
	Stale    State = "stale"    // leased, no holder, older than the grace period
	Conflict State = "conflict" // leased, and a holder labelled for another slug publishes on it
	Foreign  State = "foreign"  // not leased, but a holder publishes on it
	Unknown  State = "unknown"  // leased; the inventory was not asked or did not answer
)

// Reasons name why a decision was taken; one token each, the word gc prints.
const (
	ReasonHeld          = "held"
	ReasonWithinGrace   = "within-grace"
	ReasonNoHolder      = "no-holder"
	ReasonLabelMismatch = "label-mismatch"
	ReasonUnleased      = "unleased-holder"
	ReasonNotAsked      = "docker-not-asked"
)

// Decision is the verdict on one lease, or on one unleased but held alias.
type Decision struct {
	Lease   Lease // zero Slug for a foreign alias
	Alias   netip.Addr
	State   State
	Reason  string
	Holders []Holder
}

// classify judges every lease against the holders seen in a snapshot taken
// at now, and reports every alias that is held but not leased as foreign.
// Only a lease with no holder whose renewal is at least grace old is
// stale; nothing else may ever be reclaimed. It is pure: the decisions
// depend on its arguments alone. Decisions come sorted by alias.
//
// Leases and holders are walked in step, both in alias order, so the cost
// is a sort of each and one linear pass: a nearly full pool of 65,536
// leases is judged in milliseconds.
func classify(leases []Lease, holders []Holder, now time.Time, grace time.Duration) []Decision {
	hs := make([]Holder, 0, len(holders))
	for _, h := range holders {
		if h.Alias.Is4() && loopback.Contains(h.Alias) {
			hs = append(hs, h)
		}
	}
	slices.SortStableFunc(hs, func(a, b Holder) int { return a.Alias.Compare(b.Alias) })
	ls := leases
	byAlias := func(a, b Lease) int { return cmp.Compare(addrToU32(a.Alias), addrToU32(b.Alias)) }
	if !slices.IsSortedFunc(ls, byAlias) {
		ls = slices.Clone(leases)
		slices.SortFunc(ls, byAlias)
	}
	out := make([]Decision, 0, len(ls))
	// group returns the holders on the alias at hs[j:], and the index past them.
	group := func(j int) ([]Holder, int) {
		k := j + 1
		for k < len(hs) && hs[k].Alias == hs[j].Alias {
			k++
		}
		return hs[j:k:k], k
	}
	j := 0
	for _, l := range ls {
		v := addrToU32(l.Alias)
		for j < len(hs) && addrToU32(hs[j].Alias) < v {
			var g []Holder
			g, j = group(j)
			out = append(out, Decision{Alias: g[0].Alias, State: Foreign, Reason: ReasonUnleased, Holders: g})
		}
		d := Decision{Lease: l, Alias: l.Alias}
		if j < len(hs) && hs[j].Alias == l.Alias {
			d.Holders, j = group(j)
		}
		switch {
		case len(d.Holders) > 0 && labelledForOther(d.Holders, l.Slug):
			d.State, d.Reason = Conflict, ReasonLabelMismatch
		case len(d.Holders) > 0:
			d.State, d.Reason = Live, ReasonHeld
		case now.Sub(l.RenewedAt) >= grace:
			d.State, d.Reason = Stale, ReasonNoHolder
		default:
			d.State, d.Reason = Pending, ReasonWithinGrace
		}
		out = append(out, d)
	}
	for j < len(hs) {
		var g []Holder
		g, j = group(j)
		out = append(out, Decision{Alias: g[0].Alias, State: Foreign, Reason: ReasonUnleased, Holders: g})
	}
	return out
}

// unclassified reports every lease as Unknown, for when the inventory was
// not asked.
func unclassified(leases []Lease) []Decision {
	out := make([]Decision, len(leases))
	for i, l := range leases {
		out[i] = Decision{Lease: l, Alias: l.Alias, State: Unknown, Reason: ReasonNotAsked}
	}
	return out // leases come sorted by alias
}

func labelledForOther(hs []Holder, slug string) bool {
	for _, h := range hs {
		if h.Slug != "" && h.Slug != slug {
			return true
		}
	}
	return false
}

// adoptable returns the lowest pool alias that a container labelled for
// slug publishes on and that no lease holds, for a slug that has no lease.
// It lets a bundle started before aliaslease, or before the database was
// lost, keep the alias it already uses instead of getting a second one.
func adoptable(slug string, holders []Holder, pool Pool, leased func(netip.Addr) bool) (netip.Addr, bool) {
	var best netip.Addr
	for _, h := range holders {
		if h.Slug != slug || !pool.Contains(h.Alias) || leased(h.Alias) {
			continue
		}
		if !best.IsValid() || h.Alias.Less(best) {
			best = h.Alias
		}
	}
	return best, best.IsValid()
}

// Classify judges leases against the holders of a snapshot with the given
// grace period, as gc and acquire do; list and the health report use it.
// With no snapshot (Docker not asked, or silent) every lease is Unknown.
// Decisions come sorted by alias; foreign ones are reported only for pool
// aliases.
func Classify(leases []Lease, snap *Snapshot, grace time.Duration, pool Pool) []Decision {
	if snap == nil {
		return unclassified(leases)
	}
	ds := classify(leases, snap.Holders, snap.TakenAt, grace)
	out := ds[:0]
	for _, d := range ds {
		if d.State != Foreign || pool.Contains(d.Alias) {
			out = append(out, d)
		}
	}
	return out
}
