package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

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
