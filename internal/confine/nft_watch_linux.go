//go:build linux

// Noticing at once when aliaslease's table changes under a live tree.

package confine

import (
	"context"
	"fmt"

	"github.com/google/nftables"
)

// Watch calls onChange after each nftables transaction that changes
// aliaslease's table: a firewall reload that flushes the ruleset or the
// table, a rule or chain deleted, but also aliaslease's own Install and
// Remove. It is a hint to check Present (and Install again), so it is also
// called when the kernel dropped notifications because they came faster
// than they were read. onChange runs on the watch's goroutine, one call at
// a time.
//
// Watch returns once it listens (over netlink, the multicast group
// NFNLGRP_NFTABLES): a change made after it returns is never missed, so a
// caller checks Present once after Watch for one made before. The watch
// ends when ctx is done; the channel then receives nil, or the error that
// ended it before, and is closed.
func (f *Firewall) Watch(ctx context.Context, onChange func()) (<-chan error, error) {
	w := &watch{f: f}
	if err := w.subscribe(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() {
		defer close(done)
		done <- w.run(ctx, onChange)
	}()
	return done, nil
}

type watch struct {
	f      *Firewall
	conn   *nftables.Conn // lasting: closing it is what ends the library's receive loop
	mon    *nftables.Monitor
	events chan *nftables.MonitorEvents
}

func (w *watch) subscribe() error {
	c, err := w.f.conn(nftables.AsLasting())
	if err != nil {
		return fmt.Errorf("nftables: watch: %w", err)
	}
	// Every action and object: asked for fewer, the library's filter
	// (flags&1<<type, which Go reads as (flags&1)<<type) passes none.
	mon := nftables.NewMonitor()
	events, err := c.AddGenerationalMonitor(mon)
	if err != nil {
		c.CloseLasting()
		return fmt.Errorf("nftables: watch: %w", err)
	}
	w.conn, w.mon, w.events = c, mon, events
	return nil
}

// stop closes the subscription and reads what the library's goroutine
// still sends, so that it ends.
func (w *watch) stop() {
	if w.mon == nil {
		return
	}
	w.mon.Close()
	w.conn.CloseLasting()
	for range w.events {
	}
	w.conn, w.mon, w.events = nil, nil, nil
}

func (w *watch) run(ctx context.Context, onChange func()) error {
	defer w.stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case evs, ok := <-w.events:
			if ok && evs.GeneratedBy != nil && evs.GeneratedBy.Type != nftables.MonitorEventTypeOOB {
				if touchesOurTable(evs.Changes) {
					onChange()
				}
				continue
			}
			// A receive error (ENOBUFS when notifications were dropped)
			// ends the library's monitor: listen again, then let the
			// caller look, since a change may have gone unseen.
			w.stop()
			if err := w.subscribe(); err != nil {
				return err
			}
			onChange()
		}
	}
}

// touchesOurTable says whether a change of one transaction is to
// aliaslease's table, its chains or its rules.
func touchesOurTable(changes []*nftables.MonitorEvent) bool {
	ours := func(t *nftables.Table) bool {
		return t != nil && t.Name == TableName && t.Family == nftables.TableFamilyINet
	}
	for _, ev := range changes {
		switch d := ev.Data.(type) {
		case *nftables.Table:
			if ours(d) {
				return true
			}
		case *nftables.Chain:
			if d != nil && ours(d.Table) {
				return true
			}
		case *nftables.Rule:
			if d != nil && ours(d.Table) {
				return true
			}
		}
	}
	return false
}
