package main

import (
	"errors"
	"fmt"
	"net/netip"
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
			err := renderBeside(walk, func(d lease.Decision) error {
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
