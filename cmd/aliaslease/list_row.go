package main

import (
	"net/netip"
	"reflect"
	"strconv"
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
	// confined are the lease's live confined trees (liveConfinements):
	// what they allow is the Allows field, and the holder names say it.
	confined []lease.ProcessHolder
}

// row decides what list says of d at now.
func row(d lease.Decision, now time.Time) rowCells {
	// A lease's Decision.Alias is its own alias (lease.Classify), so the
	// one alias serves the table, the JSON and the order.
	r := rowCells{slugText: "-", alias: d.Alias, state: string(d.State), reason: string(d.Reason), holders: d.Holders, now: now, isolation: "-"}
	if d.Lease.Slug != "" {
		r.isolation, r.confined = isolationOf(d), liveConfinements(d)
		r.holders = namedConfined(r.holders, r.confined)
		r.leased, r.slug, r.slugText = true, d.Lease.Slug, escape(d.Lease.Slug)
		r.age = now.Sub(d.Lease.RenewedAt)
		r.generation, r.acquiredAt, r.renewedAt = d.Lease.Generation, d.Lease.AcquiredAt, d.Lease.RenewedAt
		r.heldAt, r.vacant = d.Lease.HeldAt, d.Lease.Vacancy.Since
		if d.State == lease.Live {
			r.vacant = time.Time{} // a holder seen ends a vacancy: the record's is from before, until a writing observation clears it
		}
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

// fields is the row as a --format template sees it: a time or a
// generation the row does not have (a foreign alias has none, a lease
// never seen live no HeldAt) is empty, never a zero time or 0.
func (r *rowCells) fields() listRow {
	f := listRow{Slug: r.slugText, Alias: r.alias.String(), State: r.state, Age: string(r.appendAge(nil)),
		Seen: string(r.appendSince(nil, r.heldAt)), Vacant: string(r.appendSince(nil, r.vacant)), Holders: r.holderNames(),
		Isolation: r.isolation, Allows: allowsText(r.confined), Reason: r.reason}
	if r.leased {
		f.Generation = generation(r.generation)
		f.AcquiredAt, f.RenewedAt, f.HeldAt, f.VacantSince = optTime(r.acquiredAt), optTime(r.renewedAt), optTime(r.heldAt), optTime(r.vacant)
	}
	return f
}

// when is a time a row may not have. A template prints it as it prints
// a time.Time, and an absent one (nil) as nothing; {{with .HeldAt}}
// skips an absent one, and {{json .}} writes it as null.
type when struct{ time.Time }

// String is the time as time.Time prints it, "" when absent.
func (w *when) String() string {
	if w == nil {
		return ""
	}
	return w.Time.String()
}

// optTime is t as a row's time: nil for the zero time (never).
func optTime(t time.Time) *when {
	if t.IsZero() {
		return nil
	}
	return &when{t}
}

// generation is a row's generation: a lease's is never 0 (generations
// start at 1), so 0 is the generation a foreign alias does not have,
// printed as nothing and written to JSON as null.
type generation uint64

// String is the generation in decimal, "" for none.
func (g generation) String() string {
	if g == 0 {
		return ""
	}
	return strconv.FormatUint(uint64(g), 10)
}

// MarshalJSON writes no generation as null.
func (g generation) MarshalJSON() ([]byte, error) {
	if g == 0 {
		return []byte("null"), nil
	}
	return strconv.AppendUint(nil, uint64(g), 10), nil
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
		o.Isolation, o.Confinements = r.isolation, confinementObjects(r.confined)
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
	Slug        string     `json:"slug"`
	Alias       string     `json:"alias"`
	State       string     `json:"state"`
	Age         string     `json:"age"`
	Seen        string     `json:"seen"`
	Vacant      string     `json:"vacant"`
	Holders     string     `json:"holders"`
	Isolation   string     `json:"isolation"`
	Allows      string     `json:"allows"`
	Generation  generation `json:"generation"`
	AcquiredAt  *when      `json:"acquired_at"`
	RenewedAt   *when      `json:"renewed_at"`
	HeldAt      *when      `json:"held_at"`
	VacantSince *when      `json:"vacant_since"`
	Reason      string     `json:"reason"`
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
