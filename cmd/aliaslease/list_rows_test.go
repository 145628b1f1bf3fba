package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// TestRenderBeside checks that every decision walked reaches add, in
// order, whatever the batch boundaries, and that an error on either side
// ends the walk and comes back (the rows of a failed walk are dropped).
func TestRenderBeside(t *testing.T) {
	errWalk, errAdd := errors.New("walk failed"), errors.New("add failed")
	tests := []struct {
		n, walkFailsAt, addFailsAt int // -1: never
		want                       error
	}{
		{0, -1, -1, nil},
		{1, -1, -1, nil},
		{511, -1, -1, nil},
		{512, -1, -1, nil},
		{5000, -1, -1, nil},
		{5000, 3000, -1, errWalk},
		{5000, -1, 10, errAdd},
		{5000, -1, 4999, errAdd},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d,walk-fails=%d,add-fails=%d", tt.n, tt.walkFailsAt, tt.addFailsAt), func(t *testing.T) {
			walked, added := 0, 0
			walk := func(fn func(lease.Decision) error) error {
				for i := range tt.n {
					if i == tt.walkFailsAt {
						return errWalk
					}
					walked++
					if err := fn(lease.Decision{Lease: lease.Lease{Generation: uint64(i)}, Alias: netip.MustParseAddr("127.0.0.16")}); err != nil {
						return err
					}
				}
				return nil
			}
			err := renderBeside(context.Background(), walk, func(d lease.Decision) error {
				if int(d.Lease.Generation) != added {
					return fmt.Errorf("decision %d came as number %d", d.Lease.Generation, added)
				}
				if added == tt.addFailsAt {
					return errAdd
				}
				added++
				return nil
			})
			if !errors.Is(err, tt.want) && !(tt.want == nil && err == nil) {
				t.Fatalf("renderBeside = %v, want %v", err, tt.want)
			}
			switch {
			case tt.want == nil && added != tt.n:
				t.Errorf("renderBeside added %d of %d decisions", added, tt.n)
			case tt.want == errWalk && added > tt.walkFailsAt:
				t.Errorf("renderBeside added %d decisions of a walk that failed after %d", added, tt.walkFailsAt)
			case tt.want == errAdd && walked > tt.addFailsAt+5*512:
				t.Errorf("the walk went on for %d decisions after add failed at %d", walked, tt.addFailsAt)
			}
		})
	}
}

// TestRenderBesideCancelled checks that the end of the context (a
// signal) ends the walk and comes back as its error.
func TestRenderBesideCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	walked := 0
	walk := func(fn func(lease.Decision) error) error {
		for i := range 100000 {
			if i == 1000 {
				cancel()
			}
			walked++
			if err := fn(lease.Decision{}); err != nil {
				return err
			}
		}
		return nil
	}
	err := renderBeside(ctx, walk, func(lease.Decision) error { return nil })
	if !errors.Is(err, context.Canceled) || walked > 1000+512 {
		t.Errorf("renderBeside with a context cancelled after 1000 decisions = %v after %d, want context.Canceled within a batch", err, walked)
	}
}

// failWriter fails every write, as /dev/full does.
type failWriter struct{ writes int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.writes++
	return 0, errors.New("no space left on device")
}

func TestCtxWriter(t *testing.T) {
	f := &failWriter{}
	w := ctxWriter{context.Background(), f}
	if n, err := w.Write(nil); n != 0 || err != nil || f.writes != 0 {
		t.Errorf("Write(nil) = %d, %v with %d writes below, want 0, nil and none", n, err, f.writes)
	}
	if _, err := w.Write([]byte("x")); err == nil || f.writes != 1 {
		t.Errorf("Write(x) = %v with %d writes below, want the error of the one write", err, f.writes)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w = ctxWriter{ctx, f}
	if _, err := w.Write([]byte("x")); !errors.Is(err, context.Canceled) || f.writes != 1 {
		t.Errorf("Write(x) after the context ended = %v with %d writes below, want context.Canceled and no write", err, f.writes)
	}
}

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

// TestRenderBesidePanic: a panic while rendering a row is an error, and
// the walk ends without waiting forever for a batch.
func TestRenderBesidePanic(t *testing.T) {
	walk := func(fn func(lease.Decision) error) error {
		for range 10000 {
			if err := fn(lease.Decision{}); err != nil {
				return err
			}
		}
		return nil
	}
	err := renderBeside(context.Background(), walk, func(lease.Decision) error { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("renderBeside with a panicking add = %v, want an error naming the panic", err)
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
			if err := rows.add(d, base); err != nil {
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
				os = append(os, decisionObject(d, true))
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
