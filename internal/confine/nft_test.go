package confine

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
)

func TestNftRulesValidate(t *testing.T) {
	alias := netip.MustParseAddr("127.0.0.17")
	ok := Rules{CgroupID: 7, Level: 2, Alias: alias, Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	with := func(f func(*Rules)) Rules { r := ok; f(&r); return r }
	tests := []struct {
		name string
		in   Rules
		err  error
		want Rules
	}{
		{"valid", ok, nil, ok},
		{"no cgroup", with(func(r *Rules) { r.CgroupID = 0 }), ErrInvalidRules, Rules{}},
		{"level 0", with(func(r *Rules) { r.Level = 0 }), ErrInvalidRules, Rules{}},
		{"no alias", with(func(r *Rules) { r.Alias = netip.Addr{} }), ErrInvalidRules, Rules{}},
		{"port 0", with(func(r *Rules) { r.Allow = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.53:0")} }), ErrInvalidRules, Rules{}},
		{"invalid prefix", with(func(r *Rules) { r.Deny = []netip.Prefix{{}} }), ErrInvalidRules, Rules{}},
		{"nothing refused", with(func(r *Rules) { r.Deny = nil }), ErrInvalidRules, Rules{}},
		{"mapped alias and allow are unmapped, prefixes masked",
			Rules{CgroupID: 7, Level: 2, Alias: netip.MustParseAddr("::ffff:127.0.0.17"),
				Allow: []netip.AddrPort{netip.MustParseAddrPort("[::ffff:127.0.0.53]:53")},
				Deny:  []netip.Prefix{netip.MustParsePrefix("127.1.2.3/8")}},
			nil,
			Rules{CgroupID: 7, Level: 2, Alias: alias,
				Allow: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.53:53")},
				Deny:  []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.validate()
			if !errors.Is(err, tt.err) {
				t.Fatalf("validate(%+v) = %v, want %v", tt.in, err, tt.err)
			}
			if err == nil && (got.CgroupID != tt.want.CgroupID || got.Level != tt.want.Level || got.Alias != tt.want.Alias ||
				!slices.Equal(got.Allow, tt.want.Allow) || !slices.Equal(got.Deny, tt.want.Deny)) {
				t.Errorf("validate(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestNftParseTag(t *testing.T) {
	tests := []struct {
		in   string
		want tag
		ok   bool
	}{
		{"aliaslease cgroup 12 jump", tag{id: 12, jump: true}, true},
		{"aliaslease cgroup 12 rule 3/7", tag{id: 12, index: 3, ofRule: 7}, true},
		{"aliaslease cgroup 12 rule 7/7", tag{id: 12, index: 7, ofRule: 7}, true},
		{"aliaslease cgroup 12 rule 8/7", tag{}, false},
		{"aliaslease cgroup 12 rule 0/7", tag{}, false},
		{"aliaslease cgroup 012 jump", tag{}, false},
		{"aliaslease cgroup 0 jump", tag{}, false},
		{"aliaslease cgroup 12 rule 3/07", tag{}, false},
		{"aliaslease cgroup 12  jump", tag{}, false},
		{"aliaslease cgroup 12 jump extra", tag{}, false},
		{"aliaslease cgroup -1 jump", tag{}, false},
		{"someone's comment", tag{}, false},
		{"", tag{}, false},
	}
	for _, tt := range tests {
		got, ok := parseTag(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseTag(%q) = %+v, %v, want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzNftParseTag(f *testing.F) {
	for _, s := range []string{"aliaslease cgroup 12 jump", "aliaslease cgroup 1 rule 1/1", "aliaslease cgroup 9 rule 2/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, ok := parseTag(s)
		if !ok {
			return
		}
		if tg.String() != s {
			t.Errorf("parseTag(%q) = %+v, which writes as %q", s, tg, tg.String())
		}
	})
}

func TestNftComplete(t *testing.T) {
	r := func(i, n int) tag { return tag{id: 5, index: i, ofRule: n} }
	tests := []struct {
		name string
		tags []tag
		want bool
	}{
		{"all three", []tag{r(1, 3), r(2, 3), r(3, 3)}, true},
		{"none", nil, false},
		{"one missing", []tag{r(1, 3), r(3, 3)}, false},
		{"out of order", []tag{r(2, 3), r(1, 3), r(3, 3)}, false},
		{"a foreign rule among them", []tag{r(1, 3), {}, r(2, 3), r(3, 3)}, false},
		{"mixed counts", []tag{r(1, 2), r(2, 3)}, false},
	}
	for _, tt := range tests {
		if got := complete(tt.tags); got != tt.want {
			t.Errorf("complete(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestNftMinimalPrefixes(t *testing.T) {
	p := netip.MustParsePrefix
	tests := []struct {
		in, want []netip.Prefix
	}{
		{[]netip.Prefix{p("127.0.0.1/32"), p("127.0.0.0/8"), p("::1/128"), p("10.0.0.5/32"), p("10.0.0.0/24"), p("127.0.0.0/8")},
			[]netip.Prefix{p("10.0.0.0/24"), p("127.0.0.0/8"), p("::1/128")}},
		{[]netip.Prefix{p("::ffff:127.0.0.0/104"), p("127.0.0.0/8")}, []netip.Prefix{p("127.0.0.0/8"), p("::ffff:127.0.0.0/104")}},
		{[]netip.Prefix{p("172.17.0.1/16")}, []netip.Prefix{p("172.17.0.0/16")}},
		{nil, nil},
	}
	for _, tt := range tests {
		if got := minimalPrefixes(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("minimalPrefixes(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
