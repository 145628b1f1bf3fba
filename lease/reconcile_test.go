package lease

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// testAt is the reading every classify test judges at: the wall clock
// t0, the boot-time clock well into one boot.
var testAt = instant{wall: t0, boot: 100 * time.Hour, id: bootID{1}}

// vacant returns l found vacant by n observations, the first ago before
// testAt (on its boot-time clock), counted after l's renewal.
func vacant(l Lease, n int, ago time.Duration) Lease {
	l.Vacancy = Vacancy{Since: t0.Add(-ago), Observations: n, gen: l.Generation, renewed: l.RenewedAt.UnixNano(), boot: testAt.boot - ago, id: testAt.id}
	return l
}

func TestClassify(t *testing.T) {
	now := t0
	grace := 10 * time.Minute
	l := func(slug, alias string, age time.Duration) Lease {
		return Lease{Slug: slug, Alias: addr(alias), Generation: 1, AcquiredAt: now.Add(-age), RenewedAt: now.Add(-age)}
	}
	// gone is a lease renewed an hour ago and long vacant: stale unless held.
	gone := func(slug, alias string) Lease { return vacant(l(slug, alias, time.Hour), 3, 30*time.Minute) }
	otherBoot := vacant(l("a", "127.0.0.16", time.Hour), 3, 30*time.Minute)
	otherBoot.Vacancy.id = bootID{2}
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
		{name: "held, unlabelled", leases: []Lease{gone("a", "127.0.0.16")}, holders: []Holder{h("127.0.0.16", "c1", "")},
			want: "a@127.0.0.16=live/held"},
		{name: "held, own label", leases: []Lease{gone("a", "127.0.0.16")}, holders: []Holder{h("127.0.0.16", "c1", "a")},
			want: "a@127.0.0.16=live/held"},
		{name: "held by another slug's container", leases: []Lease{l("a", "127.0.0.16", 0)}, holders: []Holder{h("127.0.0.16", "c1", "a"), h("127.0.0.16", "c2", "b")},
			want: "a@127.0.0.16=conflict/label-mismatch"},
		{name: "fresh lease pending", leases: []Lease{l("a", "127.0.0.16", 0)}, want: "a@127.0.0.16=pending/within-grace"},
		{name: "renewed just under grace ago, long vacant: pending", leases: []Lease{vacant(l("a", "127.0.0.16", grace-time.Nanosecond), 3, grace)},
			want: "a@127.0.0.16=pending/within-grace"},
		{name: "never observed vacant: pending however old", leases: []Lease{l("a", "127.0.0.16", 48*time.Hour)}, want: "a@127.0.0.16=pending/observing"},
		{name: "two vacant observations: pending", leases: []Lease{vacant(l("a", "127.0.0.16", time.Hour), 2, time.Hour)}, want: "a@127.0.0.16=pending/observing"},
		{name: "three, the first just under grace ago: pending", leases: []Lease{vacant(l("a", "127.0.0.16", time.Hour), 3, grace-time.Nanosecond)},
			want: "a@127.0.0.16=pending/observing"},
		{name: "three, the first exactly grace ago: stale", leases: []Lease{vacant(l("a", "127.0.0.16", grace), 3, grace)}, want: "a@127.0.0.16=stale/no-holder"},
		{name: "a vacancy of another boot: pending", leases: []Lease{otherBoot}, want: "a@127.0.0.16=pending/observing"},
		{name: "a wall clock stepped forward: pending", leases: []Lease{vacant(l("a", "127.0.0.16", 48*time.Hour), 3, time.Minute)},
			want: "a@127.0.0.16=pending/observing"},
		{name: "grace zero makes fresh stale", grace: -1, leases: []Lease{l("a", "127.0.0.16", 0)}, want: "a@127.0.0.16=stale/no-holder"},
		{name: "renewed after the snapshot is never stale", grace: -1, leases: []Lease{l("a", "127.0.0.16", -time.Second)}, want: "a@127.0.0.16=pending/within-grace"},
		{name: "unleased holder foreign", holders: []Holder{h("127.0.0.20", "c1", "")}, want: "-@127.0.0.20=foreign/unleased-holder"},
		{name: "unleased labelled holder foreign", holders: []Holder{h("127.0.0.20", "c1", "x")}, want: "-@127.0.0.20=foreign/unleased-holder"},
		{name: "wildcard holds no alias", leases: []Lease{gone("a", "127.0.0.16")},
			holders: []Holder{{Alias: addr("0.0.0.0"), Name: "w"}, {Alias: addr("::"), Name: "w6"}, {Alias: addr("10.0.0.1"), Name: "lan"}},
			want:    "a@127.0.0.16=stale/no-holder"},
		{name: "holder on another alias does not save a lease", leases: []Lease{gone("a", "127.0.0.16")}, holders: []Holder{h("127.0.0.17", "c1", "a")},
			want: "a@127.0.0.16=stale/no-holder -@127.0.0.17=foreign/unleased-holder"},
		{name: "mixed, sorted by alias",
			leases:  []Lease{gone("z", "127.0.0.18"), l("y", "127.0.0.16", 0), gone("x", "127.0.0.17")},
			holders: []Holder{h("127.0.0.17", "cx", "x"), h("127.0.0.19", "f", "")},
			want:    "y@127.0.0.16=pending/within-grace x@127.0.0.17=live/held z@127.0.0.18=stale/no-holder -@127.0.0.19=foreign/unleased-holder"},
		{name: "foreign aliases between leases given out of order",
			leases:  []Lease{l("z", "127.0.0.18", time.Hour), l("y", "127.0.0.16", 0)},
			holders: []Holder{h("127.0.0.18", "cz", "z"), h("127.0.0.17", "f1", ""), h("127.0.0.15", "f0", ""), h("127.0.0.17", "f2", "")},
			want:    "-@127.0.0.15=foreign/unleased-holder y@127.0.0.16=pending/within-grace -@127.0.0.17=foreign/unleased-holder z@127.0.0.18=live/held"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := grace
			if tt.grace < 0 {
				g = 0
			}
			ds := classify(tt.leases, tt.holders, testAt, g)
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

func TestClassifyKeepsHolders(t *testing.T) {
	hs := []Holder{{Alias: addr("127.0.0.16"), Name: "c1"}, {Alias: addr("127.0.0.16"), Name: "c2"}}
	ds := classify([]Lease{{Slug: "a", Alias: addr("127.0.0.16"), RenewedAt: t0}}, hs, testAt, time.Minute)
	if len(ds) != 1 || len(ds[0].Holders) != 2 {
		t.Errorf("classify = %+v, want one decision with both holders", ds)
	}
}

// TestClassifyEachAnyOrder checks that classifyEach, given the leases in
// any order (list gives them in storage order), decides each alias as
// classify does with them in alias order: the same decisions, the leases'
// first and the foreign ones after them in alias order.
func TestClassifyEachAnyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var leases []Lease
		var holders []Holder
		for i := range 40 {
			a := u32ToAddr(0x7f000010 + uint32(i))
			if r.IntN(3) > 0 {
				leases = append(leases, Lease{Slug: fmt.Sprintf("s%d", i), Alias: a, RenewedAt: t0.Add(-time.Duration(r.IntN(20)) * time.Minute)})
			}
			for range r.IntN(3) {
				slug := ""
				if r.IntN(4) == 0 {
					slug = fmt.Sprintf("s%d", r.IntN(40))
				}
				holders = append(holders, Holder{Alias: a, Name: fmt.Sprintf("c%d", len(holders)), Slug: slug})
			}
		}
		want := classify(leases, holders, testAt, 10*time.Minute)
		r.Shuffle(len(leases), func(i, j int) { leases[i], leases[j] = leases[j], leases[i] })
		r.Shuffle(len(holders), func(i, j int) { holders[i], holders[j] = holders[j], holders[i] })
		var got []Decision
		each := func(yield func(Lease, error) bool) {
			for _, l := range leases {
				if !yield(l, nil) {
					return
				}
			}
		}
		classifyEach(each, indexHolders(holders), testAt, 10*time.Minute, nil, func(d *Decision) error {
			got = append(got, *d)
			return nil
		})
		foreignSeen := false
		for i, d := range got {
			foreignSeen = foreignSeen || d.State == Foreign
			if d.State != Foreign && foreignSeen || d.State == Foreign && i > 0 && got[i-1].State == Foreign && byDecisionAlias(got[i-1], d) >= 0 {
				t.Fatalf("round %d: classifyEach yielded %s at %d, after a foreign alias or out of alias order", round, d.Alias, i)
			}
		}
		slices.SortFunc(got, byDecisionAlias)
		show := func(ds []Decision) string {
			var b strings.Builder
			for _, d := range ds {
				fmt.Fprintf(&b, "%s@%s=%s/%s/%d ", d.Lease.Slug, d.Alias, d.State, d.Reason, len(d.Holders))
			}
			return b.String()
		}
		if show(got) != show(want) {
			t.Fatalf("round %d: classifyEach (shuffled) = %s, want %s", round, show(got), show(want))
		}
	}
}
