//go:build unix

package confine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aliaslease/aliaslease/lease"
)

// Trees is lease.Trees over the trees of runs and confinements: a holder
// of kind lease.TreeCgroup is a group in the subtree Find returns (its
// Cgroup a name), or a cgroup someone else made (its Cgroup a path below
// the mount, "/system.slice/vm.service": confine --cgroup); one of kind
// lease.TreeProcGroup a process group. The subtree is looked for only
// when a cgroup holder is asked about, so that commands that meet none
// (list, gc on a system without runs) make no cgroup directory.
//
// A confined holder's rules live as long as its tree: Alive removes them
// once the tree is gone, End once it has ended it, and with Repair, Alive
// restores them under a live tree. Where the firewall cannot be changed
// (not root) both quietly do nothing: the rules were root's to make.
type Trees struct {
	// Repair lets Alive restore the missing rules of a live confined
	// tree (a firewall reload flushed them). gc sets it: it asks under the
	// database's lock, so a confinement lifted on purpose (confine
	// --release, which removes the record first) is never put back. Left
	// unset, missing rules stay missing, for the health report to name.
	Repair bool
	// Warn, when set, is told of rules that could not be restored or
	// removed for another reason than lacking root.
	Warn func(error)

	once sync.Once
	root Root
	err  error

	mu    sync.Mutex
	ended map[string]bool // holders End ended whose cgroup outlives them (not aliaslease's)
}

// Alive implements lease.Trees. A recorded group of aliaslease's own that
// is empty has ended for good (run and confine record theirs only once
// it is to hold the tree), so Alive removes it on the way; a cgroup
// someone else made holds the lease as long as it exists, and is never
// removed.
func (t *Trees) Alive(h lease.ProcessHolder) (bool, error) {
	if t.wasEnded(h) {
		return false, nil
	}
	tree, err := t.open(h)
	if err != nil {
		return false, err
	}
	alive := false
	if tree != nil {
		alive, err = tree.Populated()
		if g, ok := tree.(*Group); ok {
			switch {
			case foreign(h):
				alive, err = true, nil
			case err == nil && !alive:
				g.Remove() // EBUSY: populated since; the next look removes it
			}
			g.Close()
		}
	}
	if err == nil {
		t.keepRules(h, alive)
	}
	return alive, err
}

// End implements lease.Trees: SIGTERM to the whole tree, SIGKILL to what
// is left after killAfter (Terminate), then the group is removed (unless
// someone else made it), and then its rules.
func (t *Trees) End(ctx context.Context, h lease.ProcessHolder, killAfter time.Duration) error {
	tree, err := t.open(h)
	if err != nil {
		return err
	}
	if tree != nil {
		_, err = Terminate(ctx, tree, syscall.SIGTERM, killAfter)
		if g, ok := tree.(*Group); ok {
			if err == nil && !foreign(h) {
				err = g.Remove()
			}
			g.Close()
		}
		if err != nil {
			return err
		}
	}
	t.mu.Lock()
	if t.ended == nil {
		t.ended = map[string]bool{}
	}
	t.ended[h.Slug+"\x00"+h.RunID] = true
	t.mu.Unlock()
	if h.Confined != nil {
		if err := HostFirewall().Remove(h.Confined.CgroupID); !quiet(err) {
			return fmt.Errorf("%s ended, but its rules stay: %w", h, err)
		}
	}
	return nil
}

func (t *Trees) wasEnded(h lease.ProcessHolder) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ended[h.Slug+"\x00"+h.RunID]
}

// keepRules removes a confined tree's rules once it is gone, and, with
// Repair, installs them again under a live tree that lost them.
func (t *Trees) keepRules(h lease.ProcessHolder, alive bool) {
	if h.Confined == nil {
		return
	}
	fw, id := HostFirewall(), h.Confined.CgroupID
	if !alive {
		t.warn(fw.Remove(id))
		return
	}
	if !t.Repair {
		return
	}
	if ok, err := fw.Present(id); ok || err != nil {
		t.warn(err)
		return
	}
	r, err := RulesOf(*h.Confined)
	if err == nil {
		err = fw.Install(r)
	}
	if err != nil {
		err = fmt.Errorf("restoring the rules of %s of %s: %w", h, h.Slug, err)
	}
	t.warn(err)
}

func (t *Trees) warn(err error) {
	if !quiet(err) && t.Warn != nil {
		t.Warn(err)
	}
}

// quiet says err is nothing to report: none, or a firewall this process
// may not change (not root, no nftables here).
func quiet(err error) bool {
	return err == nil || errors.Is(err, fs.ErrPermission) || errors.Is(err, errors.ErrUnsupported)
}

// foreign says h's cgroup is one aliaslease did not make (confine
// --cgroup): recorded by its path below the mount, not by a name.
func foreign(h lease.ProcessHolder) bool {
	return h.Kind == lease.TreeCgroup && strings.HasPrefix(h.Cgroup, "/")
}

// open returns h's tree, nil when it is gone (its cgroup removed, or
// another made at its path since; its process group's number now another
// leader's).
func (t *Trees) open(h lease.ProcessHolder) (Tree, error) {
	switch h.Kind {
	case lease.TreeCgroup:
		t.once.Do(func() { t.root, t.err = Find() })
		if t.err != nil {
			return nil, fmt.Errorf("cannot tell whether %s lives: %w", h, t.err)
		}
		open := t.root.Open
		if foreign(h) {
			open = t.root.OpenCgroup
		}
		g, err := open(h.Cgroup)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err == nil && h.Confined != nil && g.ID() != h.Confined.CgroupID {
			g.Close()
			return nil, nil // the confined cgroup was removed; this one is a later one at its path
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
