//go:build unix

package confine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"syscall"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// Trees is lease.Trees over the trees of runs: a holder of kind
// lease.TreeCgroup is a group in the subtree Find returns, one of kind
// lease.TreeProcGroup a process group. The subtree is looked for only
// when a cgroup holder is asked about, so that commands that meet none
// (list, gc on a system without runs) make no cgroup directory.
type Trees struct {
	once sync.Once
	root Root
	err  error
}

// Alive implements lease.Trees. A recorded cgroup that is empty has
// ended for good (run records its group only once the command is in
// it), so Alive removes it on the way.
func (t *Trees) Alive(h lease.ProcessHolder) (bool, error) {
	tree, err := t.open(h)
	if err != nil || tree == nil {
		return false, err
	}
	pop, err := tree.Populated()
	if g, ok := tree.(*Group); ok {
		if err == nil && !pop {
			g.Remove() // EBUSY: populated since; the next look removes it
		}
		g.Close()
	}
	return pop, err
}

// End implements lease.Trees: SIGTERM to the whole tree, SIGKILL to what
// is left after killAfter (Terminate), then the group is removed.
func (t *Trees) End(ctx context.Context, h lease.ProcessHolder, killAfter time.Duration) error {
	tree, err := t.open(h)
	if err != nil || tree == nil {
		return err
	}
	_, err = Terminate(ctx, tree, syscall.SIGTERM, killAfter)
	if g, ok := tree.(*Group); ok {
		if err == nil {
			err = g.Remove()
		}
		g.Close()
	}
	return err
}

// open returns h's tree, nil when it is gone (its cgroup removed, or its
// process group's number now another leader's).
func (t *Trees) open(h lease.ProcessHolder) (Tree, error) {
	switch h.Kind {
	case lease.TreeCgroup:
		t.once.Do(func() { t.root, t.err = Find() })
		if t.err != nil {
			return nil, fmt.Errorf("cannot tell whether %s lives: %w", h, t.err)
		}
		g, err := t.root.Open(h.Cgroup)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return g, err
	case lease.TreeProcGroup:
		if h.PGID <= 0 {
			return nil, nil
		}
		if start, ok := StartTime(h.PGID); ok && h.Start != 0 && start != h.Start {
			return nil, nil // the number was free, so the run's group had ended
		}
		return OpenProcGroup(h.PGID), nil
	}
	return nil, fmt.Errorf("%s: unknown kind of tree %d", h, h.Kind)
}
