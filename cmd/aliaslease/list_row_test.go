package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// TestEmptyTemplateWritesNothing: a template list with no rows makes no
// write at all (an empty one fails on /dev/full).
func TestEmptyTemplateWritesNothing(t *testing.T) {
	for _, format := range []string{"{{.Slug}}", "table {{.Slug}}"} {
		tmpl, table, err := listFormat(format)
		if err != nil {
			t.Fatal(err)
		}
		r, err := rowWriter(context.Background(), tmpl, table, false)
		if err != nil {
			t.Fatal(err)
		}
		f := &failWriter{}
		err = r.end(ctxWriter{context.Background(), f})
		if wantWrites := map[bool]int{false: 0, true: 1}[table]; f.writes != wantWrites {
			t.Errorf("list --format %q with no rows made %d writes (%v), want %d", format, f.writes, err, wantWrites)
		}
	}
}

// TestJSONRowsAsEncodingJSON: list --json writes every row as
// json.MarshalIndent writes its object, whether the row was kept compact
// (a lease without holders) or rendered (foreign aliases, holders), and
// in alias order, for leases with strange slugs, zero generations,
// times with and without nanoseconds, and empty states and reasons.
func TestJSONRowsAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	slugs := []string{"a", "bottle-1", "x.y_z", `q"uote`, `back\slash`, "<tag>&", "tab\there", "\x1b[2J", "\xff\xfe", "café", "line\u2028sep", strings.Repeat("s", 128)}
	states := []lease.State{lease.Live, lease.Pending, lease.Stale, lease.Conflict, lease.Unknown, ""}
	reasons := []lease.Reason{lease.ReasonHeld, lease.ReasonWithinGrace, lease.ReasonNoHolder, lease.ReasonNotAsked, ""}
	base := time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC)
	for round := range 50 {
		var ds []lease.Decision
		for i, alias := range r.Perm(300) {
			a := netip.AddrFrom4([4]byte{127, 0, byte(alias >> 8), byte(alias)})
			at := base.Add(time.Duration(r.Int64N(int64(48 * time.Hour))))
			if r.IntN(4) == 0 {
				at = at.Truncate(time.Second)
			}
			d := lease.Decision{Alias: a, State: states[r.IntN(len(states))], Reason: reasons[r.IntN(len(reasons))]}
			if r.IntN(10) > 0 {
				d.Lease = lease.Lease{Slug: fmt.Sprintf("%s-%d", slugs[r.IntN(len(slugs))], i), Alias: a, Generation: uint64(r.IntN(3)), AcquiredAt: at.Add(-time.Hour), RenewedAt: at}
				d.Lease.Isolation.Verdict = []string{"", lease.VerdictIsolated, lease.VerdictLeaky, lease.VerdictCutOff}[r.IntN(4)]
				if r.IntN(3) == 0 {
					d.Lease.HeldAt = at.Add(time.Duration(r.Int64N(int64(time.Hour))))
				}
				if r.IntN(3) == 0 {
					d.Lease.Vacancy.Since = at.Add(time.Duration(r.Int64N(int64(time.Hour)))).Truncate(time.Duration(r.IntN(2)) * time.Second)
				}
			}
			if d.Lease.Slug == "" || r.IntN(8) == 0 {
				d.Holders = []lease.Holder{{Alias: a, ID: "c1", Name: "bundle<1>", Port: "18080->8080/tcp", State: "running"}}
			}
			ds = append(ds, d)
		}
		rows := &jsonRows{}
		for _, d := range ds {
			if err := rows.add(row(d, base)); err != nil {
				t.Fatal(err)
			}
		}
		var got strings.Builder
		if err := rows.end(&got); err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(ds, func(a, b lease.Decision) int { return a.Alias.Compare(b.Alias) })
		var want bytes.Buffer
		if err := writeJSON(&want, func() []object {
			var os []object
			for _, d := range ds {
				r := row(d, base)
				os = append(os, r.object(true))
			}
			return os
		}()); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			g, w := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
			for i := range min(len(g), len(w)) {
				if g[i] != w[i] {
					t.Fatalf("round %d: list --json line %d = %q, want %q (as encoding/json writes it)", round, i+1, g[i], w[i])
				}
			}
			t.Fatalf("round %d: list --json has %d lines, want %d", round, len(g), len(w))
		}
	}
}

// TestFormatFields: every field of a row is accepted by --format, in
// each way a template names it, prints what the row holds, and heads
// its column in upper case; a name that is not a field of the row is
// refused before any row is read.
func TestFormatFields(t *testing.T) {
	now := time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC)
	a := netip.MustParseAddr("127.0.0.16")
	r := row(lease.Decision{Lease: lease.Lease{Slug: "b-1", Alias: a, Generation: 4, AcquiredAt: now.Add(-time.Hour), RenewedAt: now.Add(-time.Minute)},
		Alias: a, State: lease.Live, Reason: lease.ReasonHeld, Holders: []lease.Holder{{Alias: a, ID: "c1", Name: "web", Port: "80->80/tcp"}}}, now)
	fields := r.fields()
	if len(rowFields) != reflect.TypeFor[listRow]().NumField() {
		t.Fatalf("rowFields = %v, want every field of listRow", rowFields)
	}
	for _, f := range rowFields {
		want := fmt.Sprint(reflect.ValueOf(fields).FieldByName(f).Interface())
		for _, format := range []string{"{{.F}}", "{{$.F}}", "{{(.).F}}", "table {{.F}}"} {
			format = strings.ReplaceAll(format, "F", f)
			tmpl, table, err := listFormat(format)
			if err != nil {
				t.Errorf("listFormat(%q) = %v, want it accepted", format, err)
				continue
			}
			out := renderTemplate(t, tmpl, table, r)
			if table {
				want := strings.ToUpper(f) + "\n" + want + "\n"
				if out != want {
					t.Errorf("list --format %q = %q, want %q", format, out, want)
				}
			} else if out != want+"\n" {
				t.Errorf("list --format %q = %q, want %q", format, out, want+"\n")
			}
		}
	}
	for _, f := range []string{"Nope", "slug", "SLUG", "Lease", "Decision", "Ports", "fields", "object"} {
		for _, format := range []string{"{{.F}}", "table {{.F}}", "{{if .Slug}}{{.F}}{{end}}", "{{with .Slug}}{{$.F}}{{end}}", "{{(.).F}}"} {
			format = strings.ReplaceAll(format, "F", f)
			if _, _, err := listFormat(format); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("no field %q", f)) {
				t.Errorf("listFormat(%q) = %v, want no field %q", format, err, f)
			}
		}
	}
}

// renderTemplate lays r out with tmpl as list does.
func renderTemplate(t *testing.T, tmpl *template.Template, table bool, r rowCells) string {
	t.Helper()
	rows, err := rowWriter(context.Background(), tmpl, table, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := rows.add(r); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := rows.end(&out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// TestTableAsTemplate: the default table, laid out without a template,
// says what a table template of the same columns says, cell for cell
// and space for space: both take their cells from row.
func TestTableAsTemplate(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	now := time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC)
	slugs := []string{"a", "bottle-1", "café", "\x1b[2J", "\xff", "日本語-slug", strings.Repeat("s", 90)}
	names := []string{"web", "db<1>", "naïve", "\x07bell"}
	hstates := []string{"running", "exited", "listening", "", "\x1b[1m"}
	states := []lease.State{lease.Live, lease.Pending, lease.Stale, lease.Conflict, lease.Unknown, lease.Foreign}
	tmpl, table, err := listFormat(`table {{.Slug}}\t{{.Alias}}\t{{.State}}\t{{.Age}}\t{{.Seen}}\t{{.Vacant}}\t{{.Isolation}}\t{{.Holders}}`)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		plain, templated := &tableRows{}, mustRows(t, tmpl, table)
		for i, alias := range r.Perm(200) {
			a := netip.AddrFrom4([4]byte{127, 0, byte(alias >> 8), byte(alias)})
			d := lease.Decision{Alias: a, State: states[r.IntN(len(states))]}
			if r.IntN(8) > 0 {
				at := now.Add(-time.Duration(r.Int64N(int64(72 * time.Hour))))
				d.Lease = lease.Lease{Slug: fmt.Sprintf("%s-%d", slugs[r.IntN(len(slugs))], i), Alias: a, AcquiredAt: at, RenewedAt: at}
				d.Lease.Isolation.Verdict = []string{"", lease.VerdictIsolated, lease.VerdictLeaky, lease.VerdictCutOff}[r.IntN(4)]
				switch r.IntN(3) {
				case 1:
					d.Lease.HeldAt = at.Add(time.Duration(r.Int64N(int64(time.Hour))))
				case 2:
					d.Lease.Vacancy.Since = at.Add(time.Duration(r.Int64N(int64(time.Hour))))
				}
			}
			for range r.IntN(3) {
				d.Holders = append(d.Holders, lease.Holder{Alias: a, ID: fmt.Sprint(r.IntN(2)), Name: names[r.IntN(len(names))], State: hstates[r.IntN(len(hstates))]})
			}
			for _, rows := range []rows{plain, templated} {
				if err := rows.add(row(d, now)); err != nil {
					t.Fatal(err)
				}
			}
		}
		var got, want strings.Builder
		if err := plain.end(&got); err != nil {
			t.Fatal(err)
		}
		if err := templated.end(&want); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			g, w := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
			for i := range min(len(g), len(w)) {
				if g[i] != w[i] {
					t.Fatalf("round %d: list line %d = %q, want %q (as the table template lays it out)", round, i+1, g[i], w[i])
				}
			}
			t.Fatalf("round %d: list has %d lines, want %d", round, len(g), len(w))
		}
	}
}

func mustRows(t *testing.T, tmpl *template.Template, table bool) rows {
	t.Helper()
	rows, err := rowWriter(context.Background(), tmpl, table, false)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
