package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
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
		r, err := rowWriter(tmpl, table, false)
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
