package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// BenchmarkTableRows renders 65,000 decisions as list's default table,
// given as list gets them: in storage (slug) order, which is not alias
// order, each slug freshly allocated.
func BenchmarkTableRows(b *testing.B) {
	now := time.Now()
	ds := make([]lease.Decision, 65000)
	a := netip.MustParseAddr("127.1.0.0")
	for i := range ds {
		ds[i] = lease.Decision{Lease: lease.Lease{Slug: fmt.Sprintf("fill-%04x-%05d", (i*40503)&0xffff, i), Alias: a, RenewedAt: now.Add(-time.Minute)},
			Alias: a, State: lease.Pending}
		a = a.Next()
	}
	slices.SortFunc(ds, func(a, b lease.Decision) int { return strings.Compare(a.Lease.Slug, b.Lease.Slug) })
	for i := range ds {
		ds[i].Lease.Slug = strings.Clone(ds[i].Lease.Slug)
	}
	b.ReportAllocs()
	for b.Loop() {
		r, _ := rowWriter(context.Background(), nil, true, false)
		for _, d := range ds {
			r.add(row(d, now))
		}
		if err := r.end(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
