package main

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// TestFormatErrors: a template that fails on a row's values is one
// usage error that names the level it failed at: the field a row has
// empty, with a hint that writes the template so that it works, or what
// the value is whose field was asked for; never Go's own words.
func TestFormatErrors(t *testing.T) {
	now := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	a := netip.MustParseAddr("127.0.0.17")
	// A lease never seen held: no HeldAt, no VacantSince.
	unheld := row(lease.Decision{Lease: lease.Lease{Slug: "b", Alias: a, Generation: 3, AcquiredAt: now, RenewedAt: now},
		Alias: a, State: lease.Pending, Reason: lease.ReasonWithinGrace}, now)
	// A foreign alias: no lease, so no time at all.
	foreign := row(lease.Decision{Alias: a, State: lease.Foreign, Holders: []lease.Holder{{Alias: a, ID: "c1", Name: "web"}}}, now)
	tests := []struct {
		format    string
		r         rowCells
		msg, hint string
	}{
		{"{{.HeldAt.Unix}}", unheld,
			"--format: HeldAt is empty for lease b (127.0.0.17), so .HeldAt.Unix cannot be evaluated",
			"HeldAt is empty where a row has no such time: write what reads it inside {{if .HeldAt}}...{{end}}"},
		{`{{.Slug}} {{.VacantSince.Format "15:04"}}`, unheld,
			`--format: VacantSince is empty for lease b (127.0.0.17), so .VacantSince.Format cannot be evaluated`,
			"VacantSince is empty where a row has no such time: write what reads it inside {{if .VacantSince}}...{{end}}"},
		{"{{$.HeldAt.Time.Unix}}", unheld,
			"--format: HeldAt is empty for lease b (127.0.0.17), so $.HeldAt.Time.Unix cannot be evaluated",
			"HeldAt is empty where a row has no such time: write what reads it inside {{if .HeldAt}}...{{end}}"},
		{"{{(.AcquiredAt).Unix}}", foreign,
			"--format: AcquiredAt is empty for 127.0.0.17 (a foreign alias, not leased), so (.AcquiredAt).Unix cannot be evaluated",
			"AcquiredAt is empty where a row has no such time: write what reads it inside {{if .AcquiredAt}}...{{end}}"},
		{"{{$t := .RenewedAt}}{{$t.Unix}}", foreign,
			"--format: $t.Unix reads a time that is empty for 127.0.0.17 (a foreign alias, not leased)",
			"AcquiredAt, RenewedAt, HeldAt and VacantSince are empty where a row has no such time: write what reads one inside {{if .HeldAt}}...{{end}}, naming that field"},
		{"{{.Slug.Foo}}", unheld, "--format: .Slug is a string, which has no field Foo", ""},
		{"{{.Slug.Foo.Bar}}", unheld, "--format: .Slug is a string, which has no field Foo", ""},
		{"{{(.Alias).Foo}}", unheld, "--format: .Alias is a string, which has no field Foo", ""},
		{"{{with .State}}{{.Len}}{{end}}", unheld, "--format: the dot here is a string, which has no field Len", ""},
		{"{{.Generation.Foo}}", unheld, "--format: .Generation is a number, which has no field Foo", ""},
		{"{{.AcquiredAt.Foo}}", unheld, "--format: .AcquiredAt is a time, which has no field Foo",
			`a time has the methods of Go's time.Time, such as {{.AcquiredAt.Unix}} or {{.AcquiredAt.Format "2006-01-02"}}`},
		{"{{.HeldAt.Foo}}", unheld, "--format: .HeldAt is a time, which has no field Foo",
			`a time has the methods of Go's time.Time, such as {{.HeldAt.Unix}} or {{.HeldAt.Format "2006-01-02"}}`},
		{"{{.AcquiredAt.Location.Foo}}", unheld, "--format: .AcquiredAt.Location is a value of type *time.Location, which has no field Foo", ""},
		// A field of the row, where the parse cannot see it: the row's fields.
		{`{{define "x"}}{{.Nope}}{{end}}{{template "x" .}}`, unheld,
			`--format: no field "Nope"; the fields are ` + strings.Join(rowFields, ", "), ""},
	}
	for _, tt := range tests {
		tmpl, table, err := listFormat(tt.format)
		if err != nil {
			t.Errorf("listFormat(%q) = %v, want it accepted", tt.format, err)
			continue
		}
		rows, err := rowWriter(context.Background(), tmpl, table, false)
		if err != nil {
			t.Fatal(err)
		}
		rows.add(tt.r)
		err = rows.end(io.Discard)
		var ue usageError
		if !errors.As(err, &ue) || ue.msg != tt.msg || ue.hint != tt.hint {
			t.Errorf("list --format %q = %v (hint %q), want %q (hint %q)", tt.format, err, ue.hint, tt.msg, tt.hint)
		}
	}
}

// FuzzFormatError checks formatError on whatever a template fails with
// on a lease never seen held (HeldAt and VacantSince empty): a usage
// error of one line, never Go's nil pointer words, and a field it calls
// empty is one the row has empty. Templates with {{range}} are left out
// (an integer range can run for ever).
func FuzzFormatError(f *testing.F) {
	for _, s := range []string{"{{.HeldAt.Unix}}", "{{(.VacantSince).Unix}}", "{{$.HeldAt.Time.Unix}}", "{{$x := .HeldAt}}{{$x.Unix}}",
		"{{.Slug.Foo}}", "{{with .State}}{{.Len}}{{end}}", "{{.AcquiredAt.Location.Foo}}", `{{.HeldAtX}}`, `{{slice .Slug 9}}`} {
		f.Add(s)
	}
	now := time.Now()
	a := netip.MustParseAddr("127.0.0.16")
	cells := row(lease.Decision{Lease: lease.Lease{Slug: "b", Alias: a, Generation: 1, AcquiredAt: now, RenewedAt: now},
		Alias: a, State: lease.Pending}, now)
	r := cells.fields()
	f.Fuzz(func(t *testing.T, format string) {
		tmpl, _, err := listFormat(format)
		if err != nil || tmpl == nil || strings.Contains(format, "range") {
			return
		}
		xerr := tmpl.Execute(io.Discard, r)
		if xerr == nil {
			return
		}
		var ue usageError
		if err := formatError(xerr, r); !errors.As(err, &ue) {
			t.Fatalf("formatError(%v) = %v, want a usage error", xerr, err)
		}
		if strings.ContainsAny(ue.msg+ue.hint, "\n") || strings.Contains(ue.msg, "nil pointer") || strings.Contains(ue.msg, "runtime error") {
			t.Errorf("list --format %q = %q (hint %q), want one line without Go's nil pointer words", format, ue.msg, ue.hint)
		}
		for _, f := range []string{"AcquiredAt", "RenewedAt"} {
			if strings.HasPrefix(ue.msg, "--format: "+f+" is empty") {
				t.Errorf("list --format %q = %q, but the row has %s", format, ue.msg, f)
			}
		}
	})
}
