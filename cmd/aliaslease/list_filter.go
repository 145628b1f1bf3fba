package main

import (
	"io"
	"net/netip"
	"path"
	"slices"
	"strings"

	"github.com/aliaslease/aliaslease/lease"
)

// listFilter is list's --filter, as docker ps takes it: KEY=VALUE, the
// same key repeated matches any of its values, different keys must all
// match.
type listFilter struct {
	states  []string       // state=: one of list's states
	slugs   []string       // slug=: a slug, or a shell pattern (bottle-*); never a foreign alias
	aliases []netip.Prefix // alias=: an address, or a CIDR
}

// filterKeys are the keys --filter takes.
var filterKeys = []string{"state", "slug", "alias"}

// rowStates are the states a row can have, which state= takes.
var rowStates = []string{string(lease.Live), string(lease.Pending), string(lease.Stale), string(lease.Conflict), string(lease.Foreign), string(lease.Unknown)}

// parseFilters reads the --filter values; anything it cannot take is a
// usage error, before the database is read.
func parseFilters(specs []string) (*listFilter, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	f := &listFilter{}
	for _, spec := range specs {
		key, value, ok := strings.Cut(spec, "=")
		if !ok || value == "" {
			return nil, usagef("list: --filter %q: want KEY=VALUE, KEY one of %s", spec, strings.Join(filterKeys, ", "))
		}
		switch key {
		case "state":
			if !slices.Contains(rowStates, value) {
				return nil, usagef("list: --filter state=%q: no such state; the states are %s", value, strings.Join(rowStates, ", "))
			}
			f.states = append(f.states, value)
		case "slug":
			if _, err := path.Match(value, ""); err != nil {
				return nil, usagef("list: --filter slug=%q: %v", value, err)
			}
			f.slugs = append(f.slugs, value)
		case "alias":
			p, err := aliasPrefix(value)
			if err != nil {
				return nil, usagef("list: --filter alias=%q: want an address or a CIDR", value)
			}
			f.aliases = append(f.aliases, p)
		default:
			return nil, usagef("list: --filter %q: unknown key %q; the keys are %s", spec, key, strings.Join(filterKeys, ", "))
		}
	}
	return f, nil
}

// aliasPrefix reads an address (a prefix of its full length) or a CIDR.
func aliasPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// match says whether the row passes the filter (a nil filter passes
// every row).
func (f *listFilter) match(r *rowCells) bool {
	if f == nil {
		return true
	}
	if len(f.states) > 0 && !slices.Contains(f.states, r.state) {
		return false
	}
	if len(f.slugs) > 0 && !(r.leased && slices.ContainsFunc(f.slugs, func(p string) bool {
		ok, _ := path.Match(p, r.slug)
		return ok
	})) {
		return false
	}
	return len(f.aliases) == 0 || slices.ContainsFunc(f.aliases, func(p netip.Prefix) bool { return p.Contains(r.alias) })
}

// quietRows is list -q: the slugs alone, one a line, in list order
// (foreign aliases have none and are left out), as docker ps -q prints
// IDs for scripts.
type quietRows struct{ sortedRows }

func (q *quietRows) add(r rowCells) error {
	if r.leased {
		q.begin(r.alias)
		q.buf = append(append(q.buf, r.slugText...), '\n')
	}
	return nil
}

func (q *quietRows) end(w io.Writer) error {
	var err error
	q.each(func(row []byte) {
		if err == nil {
			_, err = w.Write(row)
		}
	})
	return err
}
