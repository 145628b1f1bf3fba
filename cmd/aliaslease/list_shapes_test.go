package main

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// TestFormatAbsentValues: a time or generation a row does not have (a
// foreign alias has none; a lease never seen live has no HeldAt) is
// empty in a template and null in {{json .}}, never a zero time or 0.
func TestFormatAbsentValues(t *testing.T) {
	now := time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC)
	a16, a17 := netip.MustParseAddr("127.0.0.16"), netip.MustParseAddr("127.0.0.17")
	foreign := row(lease.Decision{Alias: a17, State: lease.Foreign, Holders: []lease.Holder{{Alias: a17, ID: "c1", Name: "web"}}}, now)
	leased := row(lease.Decision{Alias: a16, State: lease.Pending,
		Lease: lease.Lease{Slug: "b", Alias: a16, Generation: 7, AcquiredAt: now.Add(-time.Hour), RenewedAt: now}}, now)
	tests := []struct {
		r      rowCells
		format string
		want   string
	}{
		{foreign, "{{.Generation}}|{{.AcquiredAt}}|{{.RenewedAt}}|{{.HeldAt}}|{{.VacantSince}}", "||||"},
		{foreign, "{{with .AcquiredAt}}{{.Unix}}{{else}}none{{end}}", "none"},
		{foreign, "{{json .Generation}} {{json .AcquiredAt}}", "null null"},
		{leased, "{{.Generation}}|{{.HeldAt}}|{{.VacantSince}}", "7||"},
		{leased, "{{.RenewedAt}}", now.String()},
		{leased, "{{with .AcquiredAt}}{{.Unix}}{{end}} {{gt .Generation 6}}", strconv.FormatInt(now.Add(-time.Hour).Unix(), 10) + " true"},
		{leased, "{{json .AcquiredAt}} {{json .HeldAt}} {{json .Generation}}", `"2026-11-28T10:00:00Z" null 7`},
	}
	for _, tt := range tests {
		tmpl, table, err := listFormat(tt.format)
		if err != nil {
			t.Fatalf("listFormat(%q) = %v", tt.format, err)
		}
		if got := renderTemplate(t, tmpl, table, tt.r); got != tt.want+"\n" {
			t.Errorf("list --format %q on %s = %q, want %q", tt.format, tt.r.state, got, tt.want+"\n")
		}
	}
	tmpl, _, err := listFormat("{{json .}}")
	if err != nil {
		t.Fatal(err)
	}
	got := renderTemplate(t, tmpl, false, foreign)
	for _, want := range []string{`"generation":null`, `"acquired_at":null`, `"held_at":null`, `"slug":"-"`} {
		if !strings.Contains(got, want) {
			t.Errorf("list --format '{{json .}}' on a foreign row = %s, want %s in it", got, want)
		}
	}
}

// TestJSONNotHTMLEscaped: JSON output is for programs; <, > and & are
// written as they are, by the compact rows and the rendered ones alike.
func TestJSONNotHTMLEscaped(t *testing.T) {
	now := time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC)
	a16, a17 := netip.MustParseAddr("127.0.0.16"), netip.MustParseAddr("127.0.0.17")
	rows := &jsonRows{}
	ds := []lease.Decision{
		{Alias: a16, State: lease.Pending, Reason: lease.ReasonWithinGrace,
			Lease: lease.Lease{Slug: "a", Alias: a16, Generation: 1, AcquiredAt: now, RenewedAt: now}},
		{Alias: a17, State: lease.Foreign, Holders: []lease.Holder{{Alias: a17, ID: "c1", Name: "db<1>&co", Port: "80->80/tcp"}}},
	}
	for _, d := range ds {
		if err := rows.add(row(d, now)); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	if err := rows.end(&b); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, `"name": "db<1>&co"`) || !strings.Contains(out, `"80->80/tcp"`) || strings.Contains(out, `\u00`) {
		t.Errorf("list --json = %s, want <, > and & unescaped", out)
	}
	if got := string(appendJSONString(nil, "a<b>&c")); got != `"a<b>&c"` {
		t.Errorf("appendJSONString(%q) = %s, want %q", "a<b>&c", got, `"a<b>&c"`)
	}
	if got := string(appendJSONString(nil, "é<")); got != `"é<"` {
		t.Errorf("appendJSONString(%q) = %s, want %q", "é<", got, `"é<"`)
	}
}

// TestHoldersCellStates: the HOLDERS cell names each holder once with
// its state, as the table and a template's {{.Holders}} both say it.
func TestHoldersCellStates(t *testing.T) {
	now := time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC)
	a := netip.MustParseAddr("127.0.0.16")
	d := lease.Decision{Alias: a, State: lease.Live, Lease: lease.Lease{Slug: "b", Alias: a, Generation: 1, AcquiredAt: now, RenewedAt: now},
		Holders: []lease.Holder{
			{Alias: a, ID: "c1", Name: "web", State: "exited", Port: "80->80/tcp"},
			{Alias: a, ID: "c1", Name: "web", State: "exited", Port: "443->443/tcp"},
			{Alias: a, ID: "socket:7", Name: "tcp 127.0.0.16:9000", State: "listening", Kind: lease.HolderListener},
			{Alias: a, ID: "c2", Name: "db", State: "\x1b[1mrunning"},
		}}
	want := `web(exited),tcp 127.0.0.16:9000(listening),db(\x1b[1mrunning)`
	r := row(d, now)
	if got := r.fields().Holders; got != want {
		t.Errorf("{{.Holders}} = %q, want %q", got, want)
	}
	rows := &tableRows{}
	if err := rows.add(r); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := rows.end(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), " "+want+"\n") {
		t.Errorf("list table = %q, want its HOLDERS cell %q", b.String(), want)
	}
}

// FuzzParseFilters: --filter never panics, refuses with a usage error
// what it cannot take, and a filter it takes matches a row it names.
func FuzzParseFilters(f *testing.F) {
	for _, s := range []string{"state=stale", "slug=a*", "alias=127.0.0.16/31", "color=red", "slug=[", "alias=", "=", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string) {
		flt, err := parseFilters([]string{spec})
		if err != nil {
			if _, ok := err.(usageError); !ok {
				t.Fatalf("parseFilters(%q) = %v, want a usage error", spec, err)
			}
			return
		}
		key, value, _ := strings.Cut(spec, "=")
		a := netip.MustParseAddr("127.0.0.16")
		d := lease.Decision{Alias: a, State: lease.Pending, Lease: lease.Lease{Slug: "x", Alias: a, Generation: 1, AcquiredAt: now, RenewedAt: now}}
		switch key {
		case "state":
			d.State = lease.State(value)
		case "slug":
			if !strings.ContainsAny(value, `*?[\`) {
				d.Lease.Slug = value
			}
		case "alias":
			if p, err := aliasPrefix(value); err == nil && p.Addr().Is4() {
				d.Alias, d.Lease.Alias = p.Addr(), p.Addr()
			}
		}
		r := row(d, now)
		if key != "alias" && key != "slug" && !flt.match(&r) {
			t.Errorf("--filter %q does not match a row it names", spec)
		}
		if key == "slug" && !strings.ContainsAny(value, `*?[\`) && !flt.match(&r) {
			t.Errorf("--filter %q does not match the slug %q", spec, value)
		}
	})
}

// TestVacantOnlyWhenNotLive: a vacancy recorded by earlier observations is
// not shown on a lease list finds live (a holder seen ends it), and is
// shown on one it finds stale or pending.
func TestVacantOnlyWhenNotLive(t *testing.T) {
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	a := netip.MustParseAddr("127.0.0.16")
	for _, tt := range []struct {
		state lease.State
		want  string
	}{
		{lease.Live, "-"},
		{lease.Stale, "4m"},
		{lease.Pending, "4m"},
	} {
		l := lease.Lease{Slug: "b", Alias: a, Generation: 1, AcquiredAt: now.Add(-time.Hour), RenewedAt: now.Add(-time.Hour),
			Vacancy: lease.Vacancy{Since: now.Add(-4 * time.Minute), Observations: 2}}
		r := row(lease.Decision{Alias: a, State: tt.state, Lease: l}, now)
		tmpl, table, err := listFormat("{{.Vacant}}")
		if err != nil {
			t.Fatal(err)
		}
		if got := renderTemplate(t, tmpl, table, r); got != tt.want+"\n" {
			t.Errorf("list VACANT of a %s lease vacant since 4m ago = %q, want %q", tt.state, got, tt.want+"\n")
		}
	}
}
