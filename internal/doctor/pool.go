package doctor

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// Vacant is a lease that observations found without a holder: since
// when, how many of the observations staleness needs, and when it can be
// stale at the earliest.
type Vacant struct {
	Slug         string    `json:"slug"`
	Alias        string    `json:"alias"`
	Since        time.Time `json:"vacant_since"`
	Observations int       `json:"observations"`
	// StaleFrom is the earliest time the lease can be stale, once
	// MoreObservations more observations (gc runs) have found it vacant
	// too.
	StaleFrom        time.Time `json:"stale_from"`
	MoreObservations int       `json:"more_observations"`
}

func (r *Report) pool(cfg Config, decisions []lease.Decision) {
	p := &r.Pool
	pool := cfg.Manager.Pool
	p.Spec, p.Size = pool.String(), pool.Len()
	p.Counted = r.Database.Leases != nil
	used := map[netip.Addr]bool{}
	unread := 0 // held pool aliases of unknown lease, when the database was not read
	for _, d := range decisions {
		if pool.Contains(d.Alias) {
			used[d.Alias] = true
		}
		if d.Lease.Slug != "" {
			p.Leased++
			if !pool.Contains(d.Alias) {
				p.Outside++
			}
		}
		switch d.State {
		case lease.Live:
			p.Live++
		case lease.Pending:
			p.Pending++
		case lease.Stale:
			p.Stale++
		case lease.Unknown:
			p.Unknown++
		case lease.Conflict:
			p.Conflict++
			r.problem("conflict", fmt.Sprintf("stop the container, or re-create it with the right aliaslease.slug label (Docker cannot relabel a container); the lease of %s is kept and never reclaimed while it is held", d.Lease.Slug),
				"%s is leased to %s, but %s", d.Alias, d.Lease.Slug, holderList(labelledForOthers(d.Holders, d.Lease.Slug)))
		case lease.Foreign:
			if !p.Counted {
				unread++
				continue
			}
			p.Foreign++
			r.problem("foreign", foreignHint(d.Holders),
				"%s is in the pool but not leased, and %s", d.Alias, holderList(d.Holders))
		}
		r.vacancy(cfg, d)
		r.exitedOnly(cfg, d)
	}
	if unread > 0 {
		r.problem("pool", "see the database section; doctor cannot tell which of them are leased",
			"cannot tell: %d pool aliases are held, but the database was not read", unread)
	}
	p.Free = p.Size - len(used)
}

// vacancy records when a lease observations found vacant can be stale.
func (r *Report) vacancy(cfg Config, d lease.Decision) {
	v := d.Lease.Vacancy
	if d.Lease.Slug == "" || len(d.Holders) > 0 || v.Observations == 0 {
		return
	}
	from, more := cfg.Manager.StaleFrom(d.Lease)
	r.Vacant = append(r.Vacant, Vacant{Slug: d.Lease.Slug, Alias: d.Alias.String(), Since: v.Since, Observations: v.Observations,
		StaleFrom: from, MoreObservations: more})
}

// exitedOnly names a lease held only by containers that are not running,
// renewed over a grace ago: its bundle was not torn down. It stays held
// (a stopped container binds again when it starts).
func (r *Report) exitedOnly(cfg Config, d lease.Decision) {
	if d.State != lease.Live || time.Since(d.Lease.RenewedAt) < cfg.Manager.Grace {
		return
	}
	for _, h := range d.Holders {
		if h.Kind != lease.HolderContainer || h.State == "running" || h.State == "paused" || h.State == "restarting" {
			return
		}
	}
	r.Warnings = append(r.Warnings, Problem{Kind: "exited", Detail: fmt.Sprintf("%s on %s is held only by stopped containers (%s), renewed %s ago",
		d.Lease.Slug, d.Alias, holderList(d.Holders), time.Since(d.Lease.RenewedAt).Round(time.Second)),
		Hint: "the bundle was not torn down: remove its containers and release the lease, or start them; the lease stays held until then"})
}

// foreignHint says what to do about an unleased alias that containers
// hold: adopt it for the slug they are labelled with, or label them.
func foreignHint(hs []lease.Holder) string {
	for _, h := range hs {
		if h.Slug != "" && lease.ValidateSlug(h.Slug) != nil {
			return "its container's aliaslease.slug label is not a valid slug: re-create the container with a valid label (Docker cannot relabel a container), or move it; aliaslease never hands this alias out"
		}
		if h.Slug != "" {
			return fmt.Sprintf("its containers are labelled %s: 'aliaslease acquire %s' adopts the alias; aliaslease never hands it to another slug", h.Slug, h.Slug)
		}
	}
	return "re-create the bundle's containers with the label aliaslease.slug=SLUG (Docker cannot relabel a container) and run 'aliaslease acquire SLUG' to adopt the alias, or move them; aliaslease never hands this alias out"
}

// labelledForOthers keeps the holders labelled for a slug other than slug:
// the ones that make a conflict.
func labelledForOthers(hs []lease.Holder, slug string) []lease.Holder {
	var out []lease.Holder
	for _, h := range hs {
		if h.Slug != "" && h.Slug != slug {
			out = append(out, h)
		}
	}
	return out
}

func holderList(hs []lease.Holder) string {
	s := ""
	for i, h := range hs {
		if i > 0 {
			s += ", "
		}
		label := "unlabelled"
		if h.Slug != "" {
			label = "labelled " + h.Slug
		}
		s += fmt.Sprintf("%s (%s, %s) publishes on it", h.Name, label, h.State)
	}
	return s
}
