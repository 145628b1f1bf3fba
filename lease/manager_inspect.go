package lease

import (
	"context"
	"iter"
	"time"
)

// Inspection is what inspect shows of one slug: its lease judged as list
// judges it (state, reason, holders), when it can be stale at the
// earliest, and its recent audit events.
type Inspection struct {
	Slug string
	// Found is false when the slug holds no lease; nothing else is set.
	Found    bool
	Decision Decision
	// StaleFrom and MoreObservations are what StaleFrom says of a lease
	// that observations found vacant; zero otherwise.
	StaleFrom        time.Time
	MoreObservations int
	// Events are the slug's newest audit events, oldest first.
	Events []Event
}

// Inspect returns an inspection of each slug, in the order given, in one
// read of the database under the shared lock: each lease judged against
// the holders as ListEach judges it (Unknown when the inventory was not
// asked or did not answer, after a warning), with the newest events of
// the slug (up to events; all kept, for events <= 0). A slug without a
// lease is returned with Found false; an invalid one is ErrInvalidSlug,
// before anything is asked.
func (m *Manager) Inspect(ctx context.Context, slugs []string, events int) ([]Inspection, error) {
	want := make(map[string]int, len(slugs))
	out := make([]Inspection, len(slugs))
	for i, slug := range slugs {
		if err := ValidateSlug(slug); err != nil {
			return nil, err
		}
		out[i].Slug = slug
		if _, dup := want[slug]; !dup {
			want[slug] = i
		}
	}
	a, err := m.take(ctx, ifUnavailable)
	if err != nil {
		return nil, err
	}
	if a.fellBack != nil {
		m.warn(a.fellBack)
	}
	idx := indexHolders(a.snap.Holders)
	idx.known = a.snap.Containers != NotAsked
	_, err = m.openIfExists(ctx, true, func(s *store) error {
		err := s.each(func(leases iter.Seq2[Lease, error]) error {
			return classifyEach(leases, idx, a.snap.instant(), m.Grace, processHolders(m.Trees), func(d *Decision) error {
				if i, ok := want[d.Lease.Slug]; ok && d.Lease.Slug != "" {
					out[i].Found, out[i].Decision = true, *d
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
		for slug, i := range want {
			if out[i].Events, err = s.Events(events, slug); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		j := want[out[i].Slug]
		if j != i { // a slug named twice is inspected once, shown twice
			out[i] = out[j]
			continue
		}
		if l := out[i].Decision.Lease; out[i].Found && !l.Vacancy.Since.IsZero() {
			out[i].StaleFrom, out[i].MoreObservations = m.StaleFrom(l)
		}
		if out[i].Events == nil {
			out[i].Events = []Event{}
		}
	}
	return out, nil
}
