package main

import (
	"net/netip"
	"reflect"
	"strings"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// rowCells is what list says of one decision. row decides every cell
// of it, and the table, the JSON and the templates only lay the cells
// out. The cells whose text costs an allocation (the alias, the age, the
// holders) are kept as the values they are made from, and their text is
// made by the methods below when a layout asks: the default table of
// a full pool (docs/design.md, *Many leases*) allocates nothing per row.
type rowCells struct {
	leased     bool           // a lease; else a foreign alias, which has no slug, age, generation or times
	slug       string         // the slug as stored (JSON); slugText is the table's
	slugText   string         // SLUG: escaped for a terminal, "-" for a foreign alias
	alias      netip.Addr     // ALIAS, and the row's place in alias order
	state      string         // STATE
	reason     string         // REASON
	age        time.Duration  // AGE, since the last renewal, for a lease
	generation uint64         // 0 for a foreign alias
	acquiredAt time.Time      // as stored; JSON writes it in UTC
	renewedAt  time.Time      // as stored; JSON writes it in UTC
	heldAt     time.Time      // SEEN: when last seen live; zero for never
	vacant     time.Time      // VACANT: since when observations found it vacant; zero for not vacant
	now        time.Time      // what SEEN and VACANT count from
	holders    []lease.Holder // HOLDERS: their names in text, grouped by container in JSON
	isolation  string         // ISOLATION (isolationOf); "-" for a foreign alias
}

// row decides what list says of d at now.
func row(d lease.Decision, now time.Time) rowCells {
	// A lease's Decision.Alias is its own alias (lease.Classify), so the
	// one alias serves the table, the JSON and the order.
	r := rowCells{slugText: "-", alias: d.Alias, state: string(d.State), reason: string(d.Reason), holders: d.Holders, now: now, isolation: "-"}
	if d.Lease.Slug != "" {
		r.isolation = isolationOf(d.Lease)
		r.leased, r.slug, r.slugText = true, d.Lease.Slug, escape(d.Lease.Slug)
		r.age = now.Sub(d.Lease.RenewedAt)
		r.generation, r.acquiredAt, r.renewedAt = d.Lease.Generation, d.Lease.AcquiredAt, d.Lease.RenewedAt
		r.heldAt, r.vacant = d.Lease.HeldAt, d.Lease.Vacancy.Since
	}
	return r
}

// appendSince appends a SEEN or VACANT cell: how long ago t was, "-"
// for never (or a foreign alias).
func (r *rowCells) appendSince(b []byte, t time.Time) []byte {
	if !r.leased || t.IsZero() {
		return append(b, '-')
	}
	return appendAge(b, r.now.Sub(t))
}

// appendAge appends the AGE cell: how long ago a lease was renewed, "-"
// for a foreign alias.
func (r *rowCells) appendAge(b []byte) []byte {
	if !r.leased {
		return append(b, '-')
	}
	return appendAge(b, r.age)
}

// holderNames is the HOLDERS cell: the names of the containers holding
// the alias, once each, "-" for none.
func (r *rowCells) holderNames() string { return holderNames(r.holders) }

// fields is the row as a --format template sees it.
func (r *rowCells) fields() listRow {
	return listRow{Slug: r.slugText, Alias: r.alias.String(), State: r.state, Age: string(r.appendAge(nil)),
		Seen: string(r.appendSince(nil, r.heldAt)), Vacant: string(r.appendSince(nil, r.vacant)), Holders: r.holderNames(),
		Isolation: r.isolation, Generation: r.generation, AcquiredAt: r.acquiredAt, RenewedAt: r.renewedAt, HeldAt: r.heldAt, VacantSince: r.vacant, Reason: r.reason}
}

// object is the row as list --json writes it (gc's lines leave the
// holders out): a foreign alias has a null slug and no times.
func (r *rowCells) object(withHolders bool) object {
	o := object{Alias: r.alias.String(), State: r.state, Reason: r.reason}
	if r.leased {
		slug, acq, ren := r.slug, r.acquiredAt.UTC(), r.renewedAt.UTC()
		o.Slug, o.Generation, o.AcquiredAt, o.RenewedAt = &slug, r.generation, &acq, &ren
		if !r.heldAt.IsZero() {
			held := r.heldAt.UTC()
			o.HeldAt = &held
		}
		if !r.vacant.IsZero() {
			vacant := r.vacant.UTC()
			o.VacantSince = &vacant
		}
		o.Isolation = r.isolation
	}
	if withHolders {
		hs := holderObjects(r.holders)
		o.Holders = &hs
	}
	return o
}

// listRow is what a list --format template sees of each row; its
// exported fields are the fields a template can name (rowFields), in
// this order, and "table" formats head their columns with them.
type listRow struct {
	Slug        string    `json:"slug"`
	Alias       string    `json:"alias"`
	State       string    `json:"state"`
	Age         string    `json:"age"`
	Seen        string    `json:"seen"`
	Vacant      string    `json:"vacant"`
	Holders     string    `json:"holders"`
	Isolation   string    `json:"isolation"`
	Generation  uint64    `json:"generation"`
	AcquiredAt  time.Time `json:"acquired_at"`
	RenewedAt   time.Time `json:"renewed_at"`
	HeldAt      time.Time `json:"held_at"`
	VacantSince time.Time `json:"vacant_since"`
	Reason      string    `json:"reason"`
}

// rowFields are the fields a --format template can name: listRow's
// exported fields, read from the type itself so that the list can never
// disagree with what a template finds.
var rowFields = func() []string {
	t := reflect.TypeFor[listRow]()
	var names []string
	for f := range t.Fields() {
		if f.IsExported() {
			names = append(names, f.Name)
		}
	}
	return names
}()

// fieldsHelp names the fields as --format's usage does: {{.Slug}} {{.Alias}} ...
func fieldsHelp() string {
	return "{{." + strings.Join(rowFields, "}} {{.") + "}}"
}
