package lease

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	now := t0
	grace := 10 * time.Minute
	l := func(slug, alias string, age time.Duration) Lease {
		return Lease{Slug: slug, Alias: addr(alias), Generation: 1, AcquiredAt: now.Add(-age), RenewedAt: now.Add(-age)}
	}
	h := func(alias, name, slug string) Holder {
		return Holder{Alias: addr(alias), Name: name, Slug: slug, State: "running"}
	}
	tests := []struct {
		name    string
		leases  []Lease
		holders []Holder
		grace   time.Duration
		want    string // "slug@alias=state/reason" joined by spaces, in alias order
	}{
		{name: "empty", want: ""},
		{name: "held, unlabelled", leases: []Lease{l("a", "127.0.0.16", time.Hour)}, holders: []Holder{h("127.0.0.16", "c1", "")},
			want: "a@127.0.0.16=live/held"},
		{name: "held, own label", leases: []Lease{l("a", "127.0.0.16", time.Hour)}, holders: []Holder{h("127.0.0.16", "c1", "a")},
			want: "a@127.0.0.16=live/held"},
		{name: "held by another slug's container", leases: []Lease{l("a", "127.0.0.16", 0)}, holders: []Holder{h("127.0.0.16", "c1", "a"), h("127.0.0.16", "c2", "b")},
			want: "a@127.0.0.16=conflict/label-mismatch"},
		{name: "fresh lease pending", leases: []Lease{l("a", "127.0.0.16", 0)}, want: "a@127.0.0.16=pending/within-grace"},
		{name: "just under grace pending", leases: []Lease{l("a", "127.0.0.16", grace-time.Nanosecond)}, want: "a@127.0.0.16=pending/within-grace"},
		{name: "exactly grace stale", leases: []Lease{l("a", "127.0.0.16", grace)}, want: "a@127.0.0.16=stale/no-holder"},
		{name: "old stale", leases: []Lease{l("a", "127.0.0.16", 48*time.Hour)}, want: "a@127.0.0.16=stale/no-holder"},
		{name: "grace zero makes fresh stale", grace: -1, leases: []Lease{l("a", "127.0.0.16", 0)}, want: "a@127.0.0.16=stale/no-holder"},
		{name: "renewed after the snapshot is never stale", grace: -1, leases: []Lease{l("a", "127.0.0.16", -time.Second)}, want: "a@127.0.0.16=pending/within-grace"},
		{name: "unleased holder foreign", holders: []Holder{h("127.0.0.20", "c1", "")}, want: "-@127.0.0.20=foreign/unleased-holder"},
		{name: "unleased labelled holder foreign", holders: []Holder{h("127.0.0.20", "c1", "x")}, want: "-@127.0.0.20=foreign/unleased-holder"},
		{name: "wildcard holds no alias", leases: []Lease{l("a", "127.0.0.16", time.Hour)},
			holders: []Holder{{Alias: addr("0.0.0.0"), Name: "w"}, {Alias: addr("::"), Name: "w6"}, {Alias: addr("10.0.0.1"), Name: "lan"}},
			want:    "a@127.0.0.16=stale/no-holder"},
		{name: "holder on another alias does not save a lease", leases: []Lease{l("a", "127.0.0.16", time.Hour)}, holders: []Holder{h("127.0.0.17", "c1", "a")},
			want: "a@127.0.0.16=stale/no-holder -@127.0.0.17=foreign/unleased-holder"},
		{name: "held_at moves grace: seen live recently is pending",
			leases: []Lease{withHeld(l("a", "127.0.0.16", 48*time.Hour), now.Add(-time.Minute))},
			want:   "a@127.0.0.16=pending/within-grace"},
		{name: "held_at older than grace is stale",
			leases: []Lease{withHeld(l("a", "127.0.0.16", 48*time.Hour), now.Add(-grace))},
			want:   "a@127.0.0.16=stale/no-holder"},
		{name: "held_at older than renewal does not shorten grace",
			leases: []Lease{withHeld(l("a", "127.0.0.16", time.Minute), now.Add(-time.Hour))},
			want:   "a@127.0.0.16=pending/within-grace"},
		{name: "holder attributed by label alone keeps its slug's lease live",
			leases: []Lease{l("a", "127.0.0.16", time.Hour)}, holders: []Holder{{Name: "stopped", Slug: "a", State: "exited"}},
			want: "a@127.0.0.16=live/held"},
		{name: "label-only holder of an unleased slug places nothing",
			leases: []Lease{l("a", "127.0.0.16", time.Hour)}, holders: []Holder{{Name: "stopped", Slug: "b", State: "exited"}},
			want: "a@127.0.0.16=stale/no-holder"},
		{name: "label-only holder without a label is ignored",
			leases: []Lease{l("a", "127.0.0.16", time.Hour)}, holders: []Holder{{Name: "stopped", State: "exited"}},
			want: "a@127.0.0.16=stale/no-holder"},
		{name: "mixed, sorted by alias",
			leases:  []Lease{l("z", "127.0.0.18", time.Hour), l("y", "127.0.0.16", 0), l("x", "127.0.0.17", time.Hour)},
			holders: []Holder{h("127.0.0.17", "cx", "x"), h("127.0.0.19", "f", "")},
			want:    "y@127.0.0.16=pending/within-grace x@127.0.0.17=live/held z@127.0.0.18=stale/no-holder -@127.0.0.19=foreign/unleased-holder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := grace
			if tt.grace < 0 {
				g = 0
			}
			ds := classify(tt.leases, tt.holders, now, g)
			var got []string
			for _, d := range ds {
				slug := d.Lease.Slug
				if slug == "" {
					slug = "-"
				}
				got = append(got, fmt.Sprintf("%s@%s=%s/%s", slug, d.Alias, d.State, d.Reason))
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("%s: classify = %q, want %q", tt.name, strings.Join(got, " "), tt.want)
			}
		})
	}
}

func withHeld(l Lease, at time.Time) Lease {
	l.HeldAt = at
	return l
}

func TestClassifyKeepsHolders(t *testing.T) {
	hs := []Holder{{Alias: addr("127.0.0.16"), Name: "c1"}, {Alias: addr("127.0.0.16"), Name: "c2"}}
	ds := classify([]Lease{{Slug: "a", Alias: addr("127.0.0.16"), RenewedAt: t0}}, hs, t0, time.Minute)
	if len(ds) != 1 || len(ds[0].Holders) != 2 {
		t.Errorf("classify = %+v, want one decision with both holders", ds)
	}
}
