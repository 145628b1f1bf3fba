package lease

import (
	"iter"
	"net/netip"
	"slices"
	"time"
)

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

// Reason names why a decision was taken: one token, the word gc prints.
type Reason string

// Reasons of decisions and audit events.
const (
	ReasonHeld          Reason = "held"
	ReasonWithinGrace   Reason = "within-grace"
	ReasonNoHolder      Reason = "no-holder"
	ReasonLabelMismatch Reason = "label-mismatch"
	ReasonUnleased      Reason = "unleased-holder"
	ReasonNotAsked      Reason = "docker-not-asked"
	// ReasonInterfaceFailed: a new lease removed because its alias could
	// not be brought up.
	ReasonInterfaceFailed Reason = "interface-failed"
	// ReasonLabelledContainer: a lease rebuilt by recover from a
	// labelled container.
	ReasonLabelledContainer Reason = "labelled-container"
)

// Decision is the verdict on one lease, or on one unleased but held alias.
type Decision struct {
	Lease   Lease // zero Slug for a foreign alias
	Alias   netip.Addr
	State   State
	Reason  Reason
	Holders []Holder
}

// classify judges every lease against the holders seen in a snapshot taken
// at now, and reports every alias that is held but not leased as foreign.
// Only a lease with no holder whose renewal is at least grace old is
// stale; nothing else may ever be reclaimed. It is pure: the decisions
// depend on its arguments alone. Decisions come sorted by alias.
//
// The holders are sorted once and each lease finds its own by binary
// search, so the cost is a sort of each and one pass: a nearly full pool
// of 65,536 leases is judged in milliseconds.
func classify(leases []Lease, holders []Holder, now time.Time, grace time.Duration) []Decision {
	ls := leases
	if !slices.IsSortedFunc(ls, byAlias) {
		ls = slices.Clone(leases)
		slices.SortStableFunc(ls, byAlias) // leases on one alias (a damaged file) keep their order
	}
	each := func(yield func(Lease, error) bool) {
		for _, l := range ls {
			if !yield(l, nil) {
				return
			}
		}
	}
	// The leases' decisions come in alias order, the foreign ones after
	// them in alias order: one merge puts all in order.
	leased := make([]Decision, 0, len(ls))
	var foreign []Decision
	classifyEach(each, holders, now, grace, nil, func(d *Decision) error {
		if d.State == Foreign {
			foreign = append(foreign, *d)
		} else {
			leased = append(leased, *d)
		}
		return nil
	})
	if len(foreign) == 0 {
		return leased
	}
	out := make([]Decision, 0, len(leased)+len(foreign))
	for len(leased) > 0 && len(foreign) > 0 {
		if byDecisionAlias(foreign[0], leased[0]) < 0 {
			out, foreign = append(out, foreign[0]), foreign[1:]
		} else {
			out, leased = append(out, leased[0]), leased[1:]
		}
	}
	return append(append(out, leased...), foreign...)
}

// byDecisionAlias orders decisions by alias, the order of every listing.
func byDecisionAlias(a, b Decision) int { return a.Alias.Compare(b.Alias) }

// classifyEach is classify for leases that come one at a time, in any
// order (as the database stores them): each lease's decision goes to
// yield as soon as it is known, and the foreign aliases (held, not
// leased) follow the last lease, in alias order. Nothing is kept but the
// holders and a mark per held alias; yield gets a decision it must not
// keep (a 200-byte copy per lease is not free at 65,536). more, when not
// nil, names holders of a lease that the holders given do not show (its
// running process).
func classifyEach(leases iter.Seq2[Lease, error], holders []Holder, now time.Time, grace time.Duration, more func(Lease) []Holder, yield func(*Decision) error) error {
	hs, bySlug := sortHolders(holders)
	keys := make([]uint32, len(hs)) // hs's aliases, for the search
	for i, h := range hs {
		keys[i] = addrToU32(h.Alias)
	}
	leased := make([]bool, len(hs)) // by the first holder of each alias
	// search finds where a's holders are in hs, looking first where the
	// last search ended: leases that come in alias order cost no search.
	at := 0
	search := func(a uint32) (j int, found bool) {
		if at < len(keys) && keys[at] >= a && (at == 0 || keys[at-1] < a) {
			j, found = at, keys[at] == a
		} else {
			j, found = slices.BinarySearch(keys, a)
		}
		return j, found
	}
	// group returns the holders on the alias at hs[j:], and the index past them.
	group := func(j int) ([]Holder, int) {
		k := j + 1
		for k < len(hs) && hs[k].Alias == hs[j].Alias {
			k++
		}
		return hs[j:k:k], k
	}
	var d Decision // one for all: a fresh one per lease would escape to the heap
	for l, err := range leases {
		if err != nil {
			return err
		}
		d = Decision{Lease: l, Alias: l.Alias}
		if j, found := search(addrToU32(l.Alias)); !found {
			at = j
		} else {
			d.Holders, at = group(j)
			leased[j] = true
		}
		// group's slices are clipped: these appends copy.
		d.Holders = append(d.Holders, bySlug[l.Slug]...)
		if more != nil {
			d.Holders = append(d.Holders, more(l)...)
		}
		d.State, d.Reason = judge(l, d.Holders, now, grace)
		if err := yield(&d); err != nil {
			return err
		}
	}
	for j := 0; j < len(hs); {
		g, k := group(j)
		if !leased[j] {
			d = Decision{Alias: g[0].Alias, State: Foreign, Reason: ReasonUnleased, Holders: g}
			if err := yield(&d); err != nil {
				return err
			}
		}
		j = k
	}
	return nil
}

// sortHolders returns the holders on loopback aliases sorted by alias,
// and those attributed by their label alone (no alias) by slug; holders
// on other addresses (0.0.0.0, ::, a LAN address) hold no alias.
func sortHolders(holders []Holder) ([]Holder, map[string][]Holder) {
	hs := make([]Holder, 0, len(holders))
	var bySlug map[string][]Holder
	for _, h := range holders {
		switch {
		case !h.Alias.IsValid() && h.Slug != "":
			if bySlug == nil {
				bySlug = map[string][]Holder{}
			}
			bySlug[h.Slug] = append(bySlug[h.Slug], h)
		case h.Alias.Is4() && loopback.Contains(h.Alias):
			hs = append(hs, h)
		}
	}
	slices.SortStableFunc(hs, func(a, b Holder) int { return a.Alias.Compare(b.Alias) })
	return hs, bySlug
}

// judge gives the state of lease l with the holders found for it. Only a
// lease with no holder that was last wanted (renewed, or seen live) at
// least grace ago is stale.
func judge(l Lease, holders []Holder, now time.Time, grace time.Duration) (State, Reason) {
	switch {
	case len(holders) > 0 && labelledForOther(holders, l.Slug):
		return Conflict, ReasonLabelMismatch
	case len(holders) > 0:
		return Live, ReasonHeld
	case now.Sub(l.seenAt()) >= grace:
		return Stale, ReasonNoHolder
	}
	return Pending, ReasonWithinGrace
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

// Classify judges leases against the holders of a snapshot with the given
// grace period, as gc and acquire do; list and the health report use it.
// With no snapshot (Docker not asked, or silent) every lease is Unknown.
// Decisions come sorted by alias; foreign ones are reported only for pool
// aliases.
func Classify(leases []Lease, snap *Snapshot, grace time.Duration, pool Pool) []Decision {
	if snap == nil {
		return unclassified(leases)
	}
	ds := classify(leases, withProcesses(snap.Holders, leases), snap.TakenAt, grace)
	out := ds[:0]
	for _, d := range ds {
		if d.State != Foreign || pool.Contains(d.Alias) {
			out = append(out, d)
		}
	}
	return out
}
