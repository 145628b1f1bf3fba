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
	ReasonHeld        Reason = "held"
	ReasonWithinGrace Reason = "within-grace"
	ReasonNoHolder    Reason = "no-holder"
	// ReasonObserving: no holder, renewed at least the grace ago, but
	// not yet found vacant by enough observations over the grace.
	ReasonObserving     Reason = "observing"
	ReasonLabelMismatch Reason = "label-mismatch"
	ReasonUnleased      Reason = "unleased-holder"
	ReasonNotAsked      Reason = "docker-not-asked"
	// ReasonInterfaceFailed: a new lease removed because its alias could
	// not be brought up.
	ReasonInterfaceFailed Reason = "interface-failed"
	// ReasonLabelledContainer: a lease rebuilt by recover from a
	// labelled container.
	ReasonLabelledContainer Reason = "labelled-container"
	// ReasonKept: a lease recover --force kept from the database it
	// merged.
	ReasonKept Reason = "kept"
	// ReasonForced: a lease released by release --force, after the process
	// trees that held it were ended.
	ReasonForced Reason = "forced"
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
// at at, and reports every alias that is held but not leased as foreign.
// It is pure: the decisions depend on its arguments alone. Decisions come
// sorted by alias.
func classify(leases []Lease, holders []Holder, at instant, grace time.Duration) []Decision {
	return classifyIndexed(leases, indexHolders(holders), at, grace)
}

// classifyIndexed is classify with the holders indexed.
func classifyIndexed(leases []Lease, idx *holderIndex, at instant, grace time.Duration) []Decision {
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
	classifyEach(each, idx, at, grace, nil, func(d *Decision) error {
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
// index and a mark per held alias; yield gets a decision it must not keep
// (see docs/design.md, *Many leases*). alsoHeldBy, when not nil, names
// holders of a lease that the index does not show (its running process).
func classifyEach(leases iter.Seq2[Lease, error], idx *holderIndex, at instant, grace time.Duration, alsoHeldBy func(Lease) []Holder, yield func(*Decision) error) error {
	leased := make([]bool, len(idx.hs)) // by the first holder of each alias
	hint := 0                           // where the last search ended
	var d Decision                      // one for all: a fresh one per lease would escape to the heap
	for l, err := range leases {
		if err != nil {
			return err
		}
		d = Decision{Lease: l, Alias: l.Alias}
		j, k := idx.find(addrToU32(l.Alias), hint)
		if j < k {
			leased[j] = true
		}
		// the index's slices are clipped: these appends copy.
		d.Holders, hint = idx.hs[j:k:k], k
		if alsoHeldBy != nil {
			d.Holders = append(d.Holders, alsoHeldBy(l)...)
		}
		d.State, d.Reason = judge(l, d.Holders, at, grace, idx.known)
		if err := yield(&d); err != nil {
			return err
		}
	}
	for j := 0; j < len(idx.hs); {
		k := idx.end(j)
		if !leased[j] {
			d = Decision{Alias: idx.hs[j].Alias, State: Foreign, Reason: ReasonUnleased, Holders: idx.hs[j:k:k]}
			if err := yield(&d); err != nil {
				return err
			}
		}
		j = k
	}
	return nil
}

// holderIndex is a snapshot's holders made searchable by alias, built
// once per decision and shared by everything that decision asks of them
// (classify, the sweep, the choice of a free alias).
type holderIndex struct {
	hs   []Holder // holders on loopback aliases, sorted by alias
	keys []uint32 // hs's aliases, for the search
	// known: the holders include the inventory's containers, so a lease
	// that none holds is judged; else it is Unknown (a report with the
	// inventory off or failing).
	known bool
}

// indexHolders indexes holders. Holders on other addresses (0.0.0.0, ::,
// a LAN address) hold no alias and are left out.
func indexHolders(holders []Holder) *holderIndex {
	x := &holderIndex{hs: make([]Holder, 0, len(holders)), known: true}
	for _, h := range holders {
		if h.Alias.Is4() && loopback.Contains(h.Alias) {
			x.hs = append(x.hs, h)
		}
	}
	slices.SortStableFunc(x.hs, func(a, b Holder) int { return a.Alias.Compare(b.Alias) })
	x.keys = make([]uint32, len(x.hs))
	for i, h := range x.hs {
		x.keys[i] = addrToU32(h.Alias)
	}
	return x
}

// find returns the bounds [j, k) of alias a's holders (j == k: none, and
// j is where they would be). It looks first at hint, where the last
// search ended, so that leases coming in alias order cost no search.
func (x *holderIndex) find(a uint32, hint int) (j, k int) {
	keys := x.keys
	if hint < len(keys) && keys[hint] >= a && (hint == 0 || keys[hint-1] < a) {
		j = hint
	} else {
		j, _ = slices.BinarySearch(keys, a)
	}
	if j == len(keys) || keys[j] != a {
		return j, j
	}
	return j, x.end(j)
}

// end returns the index past the holders on hs[j]'s alias.
func (x *holderIndex) end(j int) int {
	k := j + 1
	for k < len(x.hs) && x.keys[k] == x.keys[j] {
		k++
	}
	return k
}

// on returns the holders on alias a (clipped: appending copies).
func (x *holderIndex) on(a netip.Addr) []Holder {
	j, k := x.find(addrToU32(a), 0)
	return x.hs[j:k:k]
}

// holds says whether anything holds alias a.
func (x *holderIndex) holds(a netip.Addr) bool {
	j, k := x.find(addrToU32(a), 0)
	return j < k
}

// judge gives the state of lease l with the holders found for it, at
// the reading at: the one rule every verdict on a lease goes through
// (list, gc, acquire's sweep, which judges records from their bytes with
// verdict). A lease with a holder is live, or a conflict when one is
// labelled for another slug. One without is stale only when its vacancy
// is long (enough observations, the first at least grace ago by the
// boot-time clock) and its renewal at least grace old; with a zero grace
// every lease without a holder is stale at once (unless renewed after at).
// When the holders are not known in full (a report with the inventory off
// or failing: !known), one without a holder seen is Unknown.
func judge(l Lease, holders []Holder, at instant, grace time.Duration, known bool) (State, Reason) {
	return verdict(l.Slug, l.RenewedAt, &l.Vacancy, holders, at, grace, known)
}

// verdict is judge for a lease known by its slug, renewal and vacancy.
func verdict(slug string, renewed time.Time, v *Vacancy, holders []Holder, at instant, grace time.Duration, known bool) (State, Reason) {
	switch {
	case len(holders) > 0 && labelledForOther(holders, slug):
		return Conflict, ReasonLabelMismatch
	case len(holders) > 0:
		return Live, ReasonHeld
	case !known:
		return Unknown, ReasonNotAsked
	case at.wall.Sub(renewed) < grace:
		return Pending, ReasonWithinGrace
	case grace > 0 && !v.long(at, grace):
		return Pending, ReasonObserving
	}
	return Stale, ReasonNoHolder
}

// heldAtDue says whether a reconcile at now should record that it saw a
// lease in state st live. held_at is kept coarse, written only once a
// quarter of the grace has passed since the lease was last wanted, so
// that gc on an idle system leaves the file alone.
func heldAtDue(st State, seen, now time.Time, grace time.Duration) bool {
	return st == Live && now.Sub(seen) >= grace/4
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

// classifySnapshot judges leases against the holders of a snapshot with the given
// grace period, as gc and acquire do, t telling which process trees live;
// the health report uses it.
// With no snapshot (Docker not asked, or silent) every lease is Unknown.
// Decisions come sorted by alias; foreign ones are reported only for pool
// aliases.
func classifySnapshot(leases []Lease, snap *Snapshot, grace time.Duration, pool Pool, t Trees) []Decision {
	if snap == nil {
		return unclassified(leases)
	}
	idx := indexHolders(withProcesses(snap.Holders, leases, t))
	idx.known = snap.Containers != NotAsked
	ds := classifyIndexed(leases, idx, snap.instant(), grace)
	out := ds[:0]
	for _, d := range ds {
		if d.State != Foreign || pool.Contains(d.Alias) {
			out = append(out, d)
		}
	}
	return out
}
