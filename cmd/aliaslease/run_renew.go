package main

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// keepRenewed renews h's lease every quarter of grace (at least every
// second) while run waits for its tree, and returns the function that
// stops it. Its own database sees the tree as the lease's holder; other
// users' databases, through a shared place, see only the lease's claim,
// whose renewal is what keeps it theirs to respect (see docs/design.md,
// Several users, one host). With a grace of 0 nothing is renewed: no
// time protects such a lease. A renewal that fails is said once, and the
// renewing stops: the lease is gone or another's.
func keepRenewed(m *lease.Manager, h lease.ProcessHolder, stderr io.Writer) (stop func()) {
	if m.Grace <= 0 {
		return func() {}
	}
	every := max(m.Grace/4, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := m.Renew(ctx, h.Slug, h.Generation); err != nil {
				if ctx.Err() == nil {
					say(stderr, "warning", "renewing %s while its command runs: %v", h.Slug, err)
				}
				return
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}
