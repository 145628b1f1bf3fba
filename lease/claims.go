package lease

import (
	"errors"
	"net/netip"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ReasonClaimedElsewhere is why a lease was given up: another database
// took its alias over in the shared place, by the vacancy rule, while
// this one did not renew or see it held.
const ReasonClaimedElsewhere Reason = "claimed-elsewhere"

// The claim-vacancy bucket (claim entry -> vacancy record) keeps what
// this database's observations found of other databases' claims: the
// vacancy of a lease it cannot read, counted by the rule of its own
// (see vacancy.go), against the claim's sequence and last-wanted time.
var bucketClaimVacancy = []byte("claim-vacancy")

// claimSet is the shared place's claims as one decision sees them, under
// the place's lock: which aliases other databases claim, which of those
// claims the vacancy rule lets go, and this database's own.
type claimSet struct {
	p       *sharedPlace
	on      map[netip.Addr][]*claim
	idx     *holderIndex
	at      instant
	grace   time.Duration
	observe bool            // the holders are an observation: count vacancies, let stale claims go
	written map[string]bool // entries this decision wrote
	drops   []*claim        // orphans to remove once the decision is committed
}

// newClaimSet reads the place's claims for a decision with the holders
// idx seen at at; nil when there is no place.
func newClaimSet(p *sharedPlace, idx *holderIndex, at instant, grace time.Duration, observe bool) (*claimSet, error) {
	if p == nil {
		return nil, nil
	}
	cs, err := p.read()
	if err != nil {
		return nil, err
	}
	return &claimSet{p: p, on: onAlias(cs), idx: idx, at: at, grace: grace, observe: observe, written: map[string]bool{}}, nil
}

// foreign says whether c is another database's claim that counts:
// not this database's, and not of a database provably gone.
func (cs *claimSet) foreign(c *claim) bool { return !cs.p.ours(c) && !cs.p.gone(c) }

// taken says whether another database claims a and its claim stands:
// one that cannot be taken at its word always does; another stands
// unless this decision is an observation that finds it stale.
func (cs *claimSet) taken(tx *bolt.Tx, a netip.Addr) bool {
	if cs == nil {
		return false
	}
	for _, c := range cs.on[a] {
		if !cs.foreign(c) {
			continue
		}
		if c.bad != nil || !cs.observe || !cs.stale(tx, c) {
			return true
		}
	}
	return false
}

// stale judges another database's claim by the one rule of every
// verdict: its holders as this database sees them, its last-wanted time
// as the renewal, the vacancy this database counted for it, and the
// longer of the two databases' grace periods.
func (cs *claimSet) stale(tx *bolt.Tx, c *claim) bool {
	v := vacancyFor(claimVacancyOf(tx, c.name), c.Seq, c.wanted())
	st, _ := verdict(c.Slug, c.wanted(), &v, cs.idx.on(c.Alias), cs.at, max(cs.grace, c.Grace), true)
	return st == Stale
}

// observeAll counts this observation in the vacancy of every other
// database's claim (ended by a holder seen), writing only what changed
// when tx is writable, and returns how many records changed.
func (cs *claimSet) observeAll(tx *bolt.Tx) (int, error) {
	if cs == nil || !cs.observe {
		return 0, nil
	}
	changed := 0
	for _, cl := range cs.on {
		for _, c := range cl {
			if c.bad != nil || !cs.foreign(c) {
				continue
			}
			was := vacancyFor(claimVacancyOf(tx, c.name), c.Seq, c.wanted())
			now := Vacancy{}
			if len(cs.idx.on(c.Alias)) == 0 {
				now = was.observed(c.Seq, c.wanted(), cs.at)
			}
			if sameVacancy(&was, &now) {
				continue
			}
			changed++
			if tx.Writable() {
				if err := putClaimVacancy(tx, c.name, now); err != nil {
					return changed, err
				}
			}
		}
	}
	return changed, nil
}

// nextSeq is the sequence of a new claim on a: above every claim there.
func (cs *claimSet) nextSeq(a netip.Addr) uint64 {
	var seq uint64
	for _, c := range cs.on[a] {
		seq = max(seq, c.Seq)
	}
	return seq + 1
}

// mine returns this database's claim of l, nil when it has none.
func (cs *claimSet) mine(l Lease) *claim {
	for _, c := range cs.on[l.Alias] {
		if cs.p.ours(c) && c.Slug == l.Slug && c.Generation == l.Generation {
			return c
		}
	}
	return nil
}

// claimNew claims the alias of l, a lease this decision makes, above
// every claim on it (the stale ones it takes over included).
func (cs *claimSet) claimNew(l Lease) error {
	if cs == nil {
		return nil
	}
	cs.written[claimName(l.Alias, cs.p.self.uid)] = true
	return cs.p.put(l, cs.nextSeq(l.Alias), time.Time{}, cs.grace)
}

// renewed brings l's claim up to its renewal. superseded is true when a
// later claim of another database has taken the alias over: l was given
// up by the vacancy rule, and is to be removed; unless held, this
// database sees l held (see heldHere): then the later claim is not taken
// at its word, and l's claim is renewed beside it. A lease without a claim
// (made before the place, or whose claim was removed) is claimed anew
// unless another database's claim stands on its alias; then it is left
// unclaimed, and the health report names the conflict, only while this
// database sees it held; else it is superseded, as by a later claim.
func (cs *claimSet) renewed(tx *bolt.Tx, l Lease, held bool) (superseded bool, err error) {
	if cs == nil {
		return false, nil
	}
	c := cs.mine(l)
	if c == nil {
		switch {
		case !cs.taken(tx, l.Alias):
			return false, cs.claimNew(l)
		case !held:
			// Another database's claim stands on the alias of this
			// lease, which has none: made before the place, or its
			// claim written over by another database of this user (one
			// entry per alias and user), which took the alias over.
			// The claim is what every database sees: this one gives
			// the lease up.
			return true, nil
		}
		return false, nil
	}
	// A later claim took the alias over only if this claim could be
	// found stale: unwanted for its grace (every judge uses at least
	// it, and the host has one clock). One written sooner is no
	// takeover, whatever its sequence: a member can write it by hand.
	unwanted := cs.at.wall.Sub(c.wanted()) >= c.Grace
	for _, o := range cs.on[l.Alias] {
		if !held && unwanted && o != c && o.bad == nil && cs.foreign(o) && o.Seq > c.Seq {
			return true, nil
		}
	}
	cs.written[c.name] = true
	return false, cs.p.put(l, c.Seq, c.Held, cs.grace)
}

// dropOrphans finds this database's claims that no lease of it matches
// (an acquire killed between its claim and its commit, a lease
// reclaimed or released): such a claim is provably nobody's. They are
// removed by dropped, once the decision is committed, so that a
// decision killed before its commit never leaves a lease it did not
// give up without its claim. A claim on an alias a lease of this
// database is on is kept: that lease's renewal rewrites it.
func (cs *claimSet) dropOrphans(tx *bolt.Tx) error {
	if cs == nil {
		return nil
	}
	cs.drops = cs.drops[:0]
	for _, cl := range cs.on {
		for _, c := range cl {
			if !cs.p.ours(c) || cs.written[c.name] || tx.Bucket(bucketAliases).Get(aliasKey(c.Alias)) != nil {
				continue
			}
			l, found, err := getLease(tx, c.Slug)
			if err != nil {
				return err
			}
			if !found || l.Generation != c.Generation || l.Alias != c.Alias {
				cs.drops = append(cs.drops, c)
			}
		}
	}
	return nil
}

// dropped removes the claims dropOrphans found, after the commit: each
// it can, one that fails not keeping the others.
func (cs *claimSet) dropped() error {
	if cs == nil {
		return nil
	}
	var errs []error
	for _, c := range cs.drops {
		errs = append(errs, cs.p.drop(c))
	}
	return errors.Join(errs...)
}

// claimVacancyOf reads the vacancy counted for the claim entry name.
func claimVacancyOf(tx *bolt.Tx, name string) Vacancy {
	return vacancyIn(tx, bucketClaimVacancy, name)
}

// putClaimVacancy records v for the claim entry name; a zero v removes
// the record.
func putClaimVacancy(tx *bolt.Tx, name string, v Vacancy) error {
	return putVacancyIn(tx, bucketClaimVacancy, name, v)
}
